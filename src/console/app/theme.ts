// The light/dark toggle. Without a choice the system's preference rules
// (CSS light-dark()); a choice is kept in localStorage.

const KEY = "panelcast.theme";
const dark = matchMedia("(prefers-color-scheme: dark)");

function stored(): "dark" | "light" | null {
  try {
    const v = localStorage.getItem(KEY);
    return v === "dark" || v === "light" ? v : null;
  } catch {
    return null; // storage can be off (private mode, policies)
  }
}

/** initTheme applies the saved theme and wires the toggle button. */
export function initTheme(button: HTMLButtonElement): void {
  let choice = stored();
  const apply = () => {
    if (choice) document.documentElement.dataset["theme"] = choice;
    else delete document.documentElement.dataset["theme"];
    const effective = choice ?? (dark.matches ? "dark" : "light");
    button.setAttribute("aria-pressed", String(effective === "dark"));
  };
  apply();
  dark.addEventListener("change", apply);
  button.addEventListener("click", () => {
    choice = button.getAttribute("aria-pressed") === "true" ? "light" : "dark";
    try {
      localStorage.setItem(KEY, choice);
    } catch {
      // Not remembered, but switched all the same.
    }
    apply();
  });
}
