/** Flags of the `ezctl links …` commands (a light module: commands load the link client lazily). */
import { Flags } from '@oclif/core';

/** `--toxiproxy URL` (env EZCTL_TOXIPROXY_URL): use this link server, built-in or a real Toxiproxy. */
export const toxiproxyFlag = Flags.string({
  description: "link server URL (built-in or a real Toxiproxy); default: the topology's deployment.links",
  env: 'EZCTL_TOXIPROXY_URL',
});
