// Hostile: never returns, until the wall-time limit stops it.
import { plugin } from "@hookgate/plugin";

plugin(() => {
  let spins = 0;
  for (;;) spins += 1;
});
