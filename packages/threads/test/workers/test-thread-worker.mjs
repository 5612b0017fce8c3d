// A worker for the lifecycle tests, built on the package's own runtime (from dist: workers load JavaScript).
import { runLoop, runWorker } from '../../dist/index.js';

runWorker(['frames'], async (ctx) => {
  if (ctx.data.failAtStart) throw new Error('cannot open: ' + ctx.data.failAtStart);
  ctx.ready();
  await runLoop(ctx, {
    frame: (frame) => {
      ctx.count('frames');
      ctx.emit('frame', { slot: frame.slot, ts: frame.timestamp });
    },
    command: (command) => {
      if (command.type === 'throw') throw Object.assign(new Error(command.message), { code: 'ETESTFAIL' });
      if (command.type === 'exit') process.exit(3);
      if (command.type === 'echo') return ctx.answer(command, command.value);
      if (command.type === 'spin') {
        // A worker busy in a long synchronous task: it reads no command until it is done.
        const until = performance.now() + command.ms;
        while (performance.now() < until);
      }
      ctx.emit('command', command);
    },
  });
});
