// Objects written for Deno's kernel render here: `[Symbol.for("Jupyter.display")]()` returning a
// MIME bundle or a Promise of one, through the last expression's renderer and `display()`.
import test from "node:test";
import assert from "node:assert/strict";
import { PlotlyHtml, toMimeBundle } from "../../kernel/renderers.ts";
import { createDisplay } from "../../kernel/display-api.ts";
import type { MimeBundle } from "../../lib/host.ts";

/** A class as Deno's documentation writes one (`Deno.jupyter.$display` is this symbol). */
class Temperature {
  constructor(readonly celsius: number) {}
  [Symbol.for("Jupyter.display")]() {
    return { "text/plain": `${this.celsius} C`, "text/html": `<b>${this.celsius} °C</b>` };
  }
}

/** The same with an async display method, which Deno awaits. */
class Later {
  [Symbol.for("Jupyter.display")]() {
    return new Promise((resolve) => setTimeout(() => resolve({ "text/markdown": "**later**" }), 5));
  }
}

test("a Deno-style display method renders, sync or async; text/plain is added when missing", async () => {
  const plotly = new PlotlyHtml();
  const sync = toMimeBundle(new Temperature(21), plotly);
  assert.ok(!(sync instanceof Promise), "a sync method gives the bundle at once");
  assert.deepEqual(sync, { "text/plain": "21 C", "text/html": "<b>21 °C</b>" });
  const pending = toMimeBundle(new Later(), plotly);
  assert.ok(pending instanceof Promise);
  const bundle = await pending;
  assert.equal(bundle["text/markdown"], "**later**");
  assert.match(String(bundle["text/plain"]), /Later/);
  // Deno's symbol wins over this kernel's own when an object has both.
  const both = { [Symbol.for("Jupyter.display")]: () => ({ "text/html": "deno" }), [Symbol.for("Jupyter.mimebundle")]: () => ({ "text/html": "own" }) };
  assert.equal((await toMimeBundle(both, plotly))["text/html"], "deno");
  await assert.rejects(
    Promise.resolve(toMimeBundle({ [Symbol.for("Jupyter.display")]: async () => "text" }, plotly)),
    /\[Symbol.for\("Jupyter.display"\)\]\(\) must return an object of MIME type → data, got 'text'/,
  );
});

test("display() shows a Deno-style object; with an async method it returns a Promise and shows on resolution", async () => {
  const shown: MimeBundle[] = [];
  const updated: [MimeBundle, string][] = [];
  const plotly = new PlotlyHtml();
  const display = createDisplay({
    render: (value) => toMimeBundle(value, plotly),
    show: (bundle) => shown.push(bundle),
    update: (bundle, id) => updated.push([bundle, id]),
    clear: () => undefined,
  });
  assert.equal(display(new Temperature(3)), undefined);
  assert.equal(shown.at(-1)!["text/html"], "<b>3 °C</b>");
  const pending = display(new Later());
  assert.ok(pending instanceof Promise);
  assert.equal(shown.length, 1, "not shown before the method resolves");
  await pending;
  assert.equal(shown.at(-1)!["text/markdown"], "**later**");
  await display.update(new Later(), "d1");
  assert.deepEqual(updated.map(([b, id]) => [b["text/markdown"], id]), [["**later**", "d1"]]);
});
