import test from "node:test";
import assert from "node:assert/strict";
import { escapeHtml } from "../../lib/html.ts";
import { toHTML } from "../../lib/plot/figure.ts";
import { markdownToHtml } from "../../bin/headless/markdown.ts";

test("escapeHtml turns & < > \" ' into entities and leaves other text alone", () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>Tom & Jerry</a>`), "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;");
  assert.equal(escapeHtml("plain text — ünïcode 1.5e-3"), "plain text — ünïcode 1.5e-3");
  assert.equal(escapeHtml(""), "");
  // Already-escaped text is escaped again (the function never guesses what was meant).
  assert.equal(escapeHtml("&amp;"), "&amp;amp;");
});

test("escaped text cannot break out of a quoted attribute of either kind", () => {
  const hostile = `x" onmouseover="alert(1)' onclick='alert(2)`;
  const escaped = escapeHtml(hostile);
  assert.doesNotMatch(escaped, /["']/);
});

test("the figure page and the Markdown report use the same escaping", () => {
  const page = toHTML({ data: [], layout: { title: { text: `Tom's "loss" & <b>` } } } as never);
  assert.match(page, /<title>Tom&#39;s &quot;loss&quot; &amp; <\/title>/);
  assert.match(markdownToHtml(`it's "quoted" <tag>`), /it&#39;s &quot;quoted&quot; &lt;tag&gt;/);
});
