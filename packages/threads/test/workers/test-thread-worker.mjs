// A worker for the lifecycle tests, built on the package's own runtime (from dist: workers load JavaScript).
import { runLoop, runWorker } from '../../dist/index.js';

runWorker(['frames'], async (ctx) => {
  if (ctx.data.failAtStart) throw new Error('cannot open: ' + ctx.data.failAtStart);
  ctx.ready();
  await runLoop(ctx.input, {
    frame: (frame) => {
      ctx.count('frames');
      ctx.emit('frame', { slot: frame.slot, ts: frame.timestamp });
    },
    command: (command) => {
      if (command.type === 'throw') throw Object.assign(new Error(command.message), { code: 'ETESTFAIL' });
      if (command.type === 'exit') process.exit(3);
      ctx.emit('command', command);
    },
  });
});
