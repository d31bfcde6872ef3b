// Poller runs a refresh now and then every interval while the page is
// visible; runs never overlap.
export class Poller {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly every: number,
  ) {
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.running) void this.now();
    });
  }

  start(): void {
    this.running = true;
    void this.now();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /** now refreshes at once (or waits for the refresh under way) and restarts the interval. */
  async now(): Promise<void> {
    if (!this.running) return;
    clearTimeout(this.timer);
    if (!this.inFlight) {
      this.inFlight = this.run().catch(() => {}).finally(() => (this.inFlight = undefined));
    }
    await this.inFlight;
    clearTimeout(this.timer);
    if (this.running && !document.hidden) this.timer = setTimeout(() => void this.now(), this.every);
  }
}
