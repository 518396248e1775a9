/**
 * Escaping text for HTML: the one rule every HTML view of the lab uses (progress bars, figures,
 * the kernel's tensor and table renderers, the headless notebook report).
 */

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Escapes `text` so that it is safe both as an HTML element body and inside a quoted attribute
 * value (single or double quotes): `&`, `<`, `>`, `"` and `'` become entities.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] as string);
}
