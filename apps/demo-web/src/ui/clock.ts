/** The browser's copy of the session clock: stream time = time + (now - wall) × rate, re-anchored by every clock message. */
import type { ClockState } from '../protocol.js';

export class Clock {
  private state: ClockState = { generation: 0, time: 0, rate: 0, live: false };
  private wall = performance.now();

  set(state: ClockState): void {
    this.state = state;
    this.wall = performance.now();
  }

  /** Moves the clock locally (a scrub), before the server confirms. */
  jump(time: number): void {
    this.set({ ...this.state, time, rate: 0, live: false });
  }

  now(): number {
    return this.state.time + (performance.now() - this.wall) * this.state.rate;
  }

  get rate(): number {
    return this.state.rate;
  }

  get live(): boolean {
    return this.state.live;
  }

  get generation(): number {
    return this.state.generation;
  }
}
