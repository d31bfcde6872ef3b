// The stand-in's test report (grafanatest.Report): what the browser looked
// like from inside the page, sent once the page has booted. The same fields
// as assets/app.js sends.
import { standIn } from './runtime';

function pad(n: number) {
  return (n < 10 ? '0' : '') + n;
}

// Go layout 2006-01-02T15:04:05-07:00, in the browser's time zone.
function localISO(d: Date) {
  let off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  off = Math.abs(off);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(Math.floor(off / 60))}:${pad(off % 60)}`
  );
}

// sendReport sends the report to the stand-in; the built-in demo takes none.
export function sendReport(scenario: string) {
  const settings = standIn;
  if (!settings) {
    return;
  }
  const w = window as any;
  fetch('/api/panelcast-test/report', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      scenario,
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      localTime: localISO(new Date(settings.reportInstant)),
      language: navigator.language,
      userAgent: navigator.userAgent,
      width: window.innerWidth,
      height: window.innerHeight,
      dpr: window.devicePixelRatio,
      binding: typeof w.__grafanaImageRendererMessageChannel === 'function',
    }),
  }).catch(() => {
    // The report is for tests; a page that cannot send it still renders.
  });
}
