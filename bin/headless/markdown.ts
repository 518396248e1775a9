/**
 * A small Markdown-to-HTML converter for the headless notebook report: headings, paragraphs, bullet
 * and numbered lists, pipe tables, fenced code, bold, italic, inline code and links. Text is escaped
 * first; `$…$` / `$$…$$` math is kept as written (the report has no math renderer).
 */

import { escapeHtml } from "../../lib/html.ts";

/** Inline markup of one escaped line: code spans, links, bold, italic. */
function inline(text: string): string {
  const codes: string[] = [];
  let s = escapeHtml(text).replace(/`([^`]+)`/g, (_, c: string) => `\u0000${codes.push(`<code>${c}</code>`) - 1}\u0000`);
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, label: string, href: string) => `<a href="${href}">${label}</a>`);
  s = s.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
  s = s.replace(/(^|[^*\w])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>");
  s = s.replace(/(^|[^\w$])_([^_\s][^_]*)_(?=[^\w]|$)/g, "$1<em>$2</em>");
  return s.replace(/\u0000(\d+)\u0000/g, (_, i: string) => codes[Number(i)]);
}

/** The cells of a pipe-table row. */
function tableCells(line: string): string[] {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

/** Converts Markdown text to an HTML fragment. */
export function markdownToHtml(markdown: string): string {
  const lines = markdown.replace(/\r\n?/g, "\n").split("\n");
  const out: string[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) out.push(`<p>${inline(paragraph.join(" "))}</p>`);
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (line.trim() === "") {
      flush();
    } else if (line.startsWith("```")) {
      flush();
      const code: string[] = [];
      while (++i < lines.length && !lines[i].startsWith("```")) code.push(lines[i]);
      out.push(`<pre><code>${escapeHtml(code.join("\n"))}</code></pre>`);
    } else if (heading) {
      flush();
      out.push(`<h${heading[1].length}>${inline(heading[2])}</h${heading[1].length}>`);
    } else if (line.trim() === "$$") {
      flush();
      const math: string[] = [];
      while (++i < lines.length && lines[i].trim() !== "$$") math.push(lines[i]);
      out.push(`<div class="math">$$${escapeHtml(math.join("\n"))}$$</div>`);
    } else if (/^\s*\|/.test(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1])) {
      flush();
      const head = tableCells(line);
      const rows: string[][] = [];
      i++;
      while (i + 1 < lines.length && /^\s*\|/.test(lines[i + 1])) rows.push(tableCells(lines[++i]));
      out.push(
        `<table><thead><tr>${head.map((c) => `<th>${inline(c)}</th>`).join("")}</tr></thead><tbody>` +
          rows.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join("")}</tr>`).join("") +
          "</tbody></table>",
      );
    } else if (/^\s*([-*]|\d+\.)\s+/.test(line)) {
      flush();
      const ordered = /^\s*\d+\./.test(line);
      const items: string[] = [];
      i--;
      while (i + 1 < lines.length && lines[i + 1].trim() !== "" && !/^#{1,6}\s/.test(lines[i + 1])) {
        const next = lines[++i];
        const item = /^\s*(?:[-*]|\d+\.)\s+(.*)$/.exec(next);
        if (item) items.push(item[1]);
        else items[items.length - 1] += ` ${next.trim()}`;
      }
      const tag = ordered ? "ol" : "ul";
      out.push(`<${tag}>${items.map((it) => `<li>${inline(it)}</li>`).join("")}</${tag}>`);
    } else {
      paragraph.push(line.trim());
    }
  }
  flush();
  return out.join("\n");
}
