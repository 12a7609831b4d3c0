// qr.ts — QR codes drawn in the browser (qrcode-generator): TOTP enrolment's
// otpauth URI, deposit addresses, BBQr parts. A canvas with a quiet zone,
// black on white whatever the page's colours.
import qrcode from "qrcode-generator";

export function qrCanvas(text: string, opts: { scale?: number; mode?: "Byte" | "Alphanumeric"; label: string }): HTMLCanvasElement {
  const q = qrcode(0, "L");
  q.addData(text, opts.mode || "Byte");
  q.make();
  const n = q.getModuleCount();
  const scale = opts.scale || 4;
  const quiet = 4;
  const c = document.createElement("canvas");
  c.width = c.height = (n + 2 * quiet) * scale;
  c.setAttribute("role", "img");
  c.setAttribute("aria-label", opts.label);
  c.className = "qr";
  drawInto(c, q, scale, quiet);
  return c;
}

function drawInto(c: HTMLCanvasElement, q: ReturnType<typeof qrcode>, scale: number, quiet: number): void {
  const n = q.getModuleCount();
  const size = (n + 2 * quiet) * scale;
  if (c.width !== size) c.width = c.height = size;
  const g = c.getContext("2d")!;
  g.fillStyle = "#fff";
  g.fillRect(0, 0, size, size);
  g.fillStyle = "#000";
  for (let r = 0; r < n; r++)
    for (let col = 0; col < n; col++) if (q.isDark(r, col)) g.fillRect((col + quiet) * scale, (r + quiet) * scale, scale, scale);
}

// Redraws canvas c with text (BBQr animation frames).
export function qrDraw(c: HTMLCanvasElement, text: string, scale = 4, mode: "Byte" | "Alphanumeric" = "Alphanumeric"): void {
  const q = qrcode(0, "L");
  q.addData(text, mode);
  q.make();
  drawInto(c, q, scale, 4);
}
