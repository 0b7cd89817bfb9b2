// One shared timer for every guest TCP connection: armed for the earliest `nextTimerAt()` and
// re-armed after each event, instead of one setTimeout per connection. Firing early is harmless
// (tick() only runs what is due), so the timer is only ever moved earlier between firings.
import type { GuestTcpConnection } from "../tcp/connection.ts";

export class ConnectionTimer {
  private handle: ReturnType<typeof setTimeout> | undefined;
  private armedFor: number | undefined;

  constructor(
    private readonly connections: () => Iterable<GuestTcpConnection>,
    private readonly now: () => number,
  ) {}

  /** Call after anything that may have changed a connection's deadline. */
  rearm(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const connection of this.connections()) {
      const due = connection.nextTimerAt();
      if (due !== undefined && due < earliest) earliest = due;
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    if (this.armedFor !== undefined && this.armedFor <= earliest) return;
    clearTimeout(this.handle);
    this.armedFor = earliest;
    this.handle = setTimeout(() => this.fire(), Math.max(0, earliest - this.now()));
  }

  stop(): void {
    clearTimeout(this.handle);
    this.handle = undefined;
    this.armedFor = undefined;
  }

  private fire(): void {
    this.handle = undefined;
    this.armedFor = undefined;
    const now = this.now();
    // A copy: tick() may close connections, which removes them from the live table.
    for (const connection of [...this.connections()]) {
      const due = connection.nextTimerAt();
      if (due !== undefined && due <= now) connection.tick();
    }
    this.rearm();
  }
}
