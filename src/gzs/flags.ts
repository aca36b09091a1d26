/** Flags of the `ezctl gzs …` commands (a light module: commands load the rest lazily). */
import { Flags } from '@oclif/core';

export const gzsFlags = {
  gzs: Flags.string({
    description: "GZS URL(s), comma-separated, tried in order [default: the topology's deployment.gzs]",
    env: 'EZ_GZS_URL',
  }),
};

export const changeFlags = {
  ...gzsFlags,
  token: Flags.string({
    description: 'bearer token of the change API [default: EZ_GZS_TOKEN, else the development token]',
    env: 'EZ_GZS_TOKEN',
  }),
  'if-epoch': Flags.integer({
    description: 'apply only if the table is still at this epoch (else exit 1 with the current epoch)',
    min: 1,
  }),
};
