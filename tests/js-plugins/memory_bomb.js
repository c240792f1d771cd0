// Hostile: allocates until the memory limit stops it.
import { plugin } from "@hookgate/plugin";

plugin(() => {
  const hoard = [];
  for (;;) hoard.push(new Uint8Array(1 << 20).fill(1));
});
