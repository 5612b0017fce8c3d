import { packageBuild } from '@valkka/tsup-preset';
import { defineConfig } from 'tsup';

// mirror-device is its own entry: reader worker threads import it by file URL (mirror.json).
export default defineConfig(packageBuild({ entry: ['src/index.ts', 'src/mirror-device.ts'] }));
