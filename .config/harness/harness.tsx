// The Send to chat modal outside Grafana, for screenshots in light and dark:
// the real @grafana/ui in Grafana's Modal, a canvas-drawn "panel" as the
// render, and runtime.ts in place of @grafana/runtime.
import React from 'react';
import { createRoot } from 'react-dom/client';
import { css } from '@emotion/css';
import { createTheme, ThemeContext } from '@grafana/data';
import { GlobalStyles, Modal } from '@grafana/ui';

import { SendToChat } from '../../src/components/SendToChat';
import { context, installFakeFetch } from './fakes';

const params = new URLSearchParams(window.location.search);
const mode = params.get('theme') === 'light' ? 'light' : 'dark';
const theme = createTheme({ colors: { mode } });

installFakeFetch(mode);

const modalWidth = css({ width: 760 });

function App() {
  return (
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <Modal title="Send to chat" isOpen onDismiss={() => {}} className={modalWidth}>
        <SendToChat context={context} pollMs={200} />
      </Modal>
    </ThemeContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(<App />);

// ?send=1 presses Send once the preview is there.
if (params.get('send')) {
  const t = setInterval(() => {
    const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Send' && !x.disabled);
    if (b && document.querySelector('img[alt^="Preview"]')) {
      clearInterval(t);
      b.click();
    }
  }, 100);
}
