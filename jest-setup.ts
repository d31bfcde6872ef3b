import '@testing-library/jest-dom';
import { TextDecoder, TextEncoder } from 'util';

Object.assign(global, { TextDecoder, TextEncoder });

if (typeof window !== 'undefined') {
  // jsdom lacks these; @grafana/ui and the preview use them.
  Object.defineProperty(window, 'matchMedia', {
    writable: true,
    value: (query: string) => ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => {},
      removeListener: () => {},
      addEventListener: () => {},
      removeEventListener: () => {},
      dispatchEvent: () => false,
    }),
  });
  HTMLCanvasElement.prototype.getContext = (() => null) as unknown as HTMLCanvasElement['getContext'];
  if (!URL.createObjectURL) {
    let n = 0;
    URL.createObjectURL = () => `blob:panelcast/${++n}`;
    URL.revokeObjectURL = () => {};
  }
  class NoopObserver {
    observe() {}
    unobserve() {}
    disconnect() {}
  }
  Object.assign(global, { IntersectionObserver: (global as { IntersectionObserver?: unknown }).IntersectionObserver ?? NoopObserver });
  Object.assign(global, { ResizeObserver: (global as { ResizeObserver?: unknown }).ResizeObserver ?? NoopObserver });
}

// i18next (inside @grafana/ui) advertises itself on every init.
const info = console.info.bind(console);
console.info = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].includes('i18next')) {
    return;
  }
  info(...args);
};
