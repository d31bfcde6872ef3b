// The light/dark toggle. Without a saved choice the system's preference
// rules (CSS light-dark()); a choice is kept in localStorage.

const KEY = "panelcast.theme";
const dark = matchMedia("(prefers-color-scheme: dark)");

function saved(): string | null {
  try {
    const v = localStorage.getItem(KEY);
    return v === "dark" || v === "light" ? v : null;
  } catch {
    return null; // storage can be off (private mode, policies)
  }
}

function effective(): "dark" | "light" {
  return (saved() ?? (dark.matches ? "dark" : "light")) as "dark" | "light";
}

function apply(button: HTMLButtonElement | null): void {
  const choice = saved();
  if (choice) document.documentElement.dataset["theme"] = choice;
  else delete document.documentElement.dataset["theme"];
  button?.setAttribute("aria-pressed", String(effective() === "dark"));
}

/** initTheme applies the saved theme and wires the toggle button. */
export function initTheme(button: HTMLButtonElement): void {
  apply(button);
  dark.addEventListener("change", () => apply(button));
  button.addEventListener("click", () => {
    const next = effective() === "dark" ? "light" : "dark";
    try {
      localStorage.setItem(KEY, next);
    } catch {
      document.documentElement.dataset["theme"] = next; // not remembered, but still switched
      button.setAttribute("aria-pressed", String(next === "dark"));
      return;
    }
    apply(button);
  });
}
