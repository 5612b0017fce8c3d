import { readFileSync } from 'node:fs';
import { packageBuild } from '@valkka/tsup-preset';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig(packageBuild({ define: { __VERSION__: JSON.stringify(version) } }));
