// run.ts: runs work through the reporter that suits the output: Ink on a terminal, plain lines in
// pipes and CI, JSON lines with --json.
import { chooseReporter, type WorkEvent } from "./events.js";
import { consume } from "./plain.js";

export async function report(title: string, events: AsyncIterable<WorkEvent>, json: boolean): Promise<WorkEvent | undefined> {
  const kind = chooseReporter(json);
  if (kind === "ink") {
    const { renderInk } = await import("./ink.js");
    return renderInk(title, events);
  }
  return consume(events, kind);
}
