import { packageBuild } from '@valkka/tsup-preset';
import { defineConfig } from 'tsup';

export default defineConfig(packageBuild());
