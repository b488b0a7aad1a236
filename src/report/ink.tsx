// ink.tsx: the interactive reporter: folds events into dashboard state and re-renders (loaded lazily,
// only on a terminal outside CI).
import React from "react";
import { render } from "ink";
import type { WorkEvent } from "./events.js";
import { Dashboard } from "./Dashboard.js";
import { initialState, reduce } from "./state.js";

export async function renderInk(title: string, events: AsyncIterable<WorkEvent>): Promise<WorkEvent | undefined> {
  let state = initialState(title);
  const app = render(<Dashboard state={state} />, { exitOnCtrlC: false, patchConsole: false });
  let last: WorkEvent | undefined;
  let pending = false;
  try {
    for await (const e of events) {
      last = e;
      state = reduce(state, e);
      if (!pending) {
        pending = true;
        setTimeout(() => {
          pending = false;
          app.rerender(<Dashboard state={state} />);
        }, 100);
      }
    }
  } finally {
    app.rerender(<Dashboard state={state} />);
    app.unmount();
    await app.waitUntilExit().catch(() => undefined);
  }
  return last;
}
