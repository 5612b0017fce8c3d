/**
 * One timer per interval for every filesystem of a thread. A writer's flush and its retention poll
 * each did their own setInterval, so N filesystems in one thread woke it at N different instants per
 * interval, and each flush's I/O (write, fdatasync, row) went to the libuv pool on its own. On one
 * shared tick they all start at once: their jobs reach the pool together, overlap there, and the
 * thread wakes for their completions together. Every callback still runs once per interval, so what a
 * flush interval promises is unchanged.
 */
const tickers = new Map<number, Set<() => void>>();
const timers = new Map<number, NodeJS.Timeout>();

/** Calls `fn` every `intervalMs` (never keeping the process alive); returns the function that stops it. */
export function everyInterval(intervalMs: number, fn: () => void): () => void {
  let callbacks = tickers.get(intervalMs);
  if (!callbacks) {
    const set = new Set<() => void>();
    callbacks = set;
    tickers.set(intervalMs, set);
    const timer = setInterval(() => {
      // A copy: a callback may stop itself or another one.
      for (const f of [...set]) f();
    }, intervalMs);
    timer.unref();
    timers.set(intervalMs, timer);
  }
  const own = (): void => fn();
  callbacks.add(own);
  return () => {
    const set = tickers.get(intervalMs);
    if (!set?.delete(own) || set.size > 0) return;
    clearInterval(timers.get(intervalMs));
    tickers.delete(intervalMs);
    timers.delete(intervalMs);
  };
}
