// airgap.ts — carrying a transfer across the air gap: the signing package
// to download or to show as an animated BBQr (the signer's camera reads it),
// and the signed PSBTs coming back from files: a binary PSBT, its base64, or
// BBQr parts (one a line, any order — a handheld scanner in keyboard mode
// types exactly that).
import jsQR from "jsqr";
import { call } from "../api";
import { field, h, replace } from "../dom";
import { download, sha256Hex, unb64 } from "../format";
import { Collector, Encoding, split } from "../bbqr";
import { qrDraw } from "../qr";
import { act, button, card, dl, notice, status } from "../ui";
import type { Transfer } from "./transfers";

const PSBT_MAGIC = [0x70, 0x73, 0x62, 0x74, 0xff];

function isPsbt(b: Uint8Array): boolean {
  return b.length > 5 && PSBT_MAGIC.every((x, i) => b[i] === x);
}

// A signed PSBT from a file's bytes: binary, base64 text, or BBQr parts.
export function readSignedPsbt(bytes: Uint8Array): Uint8Array {
  if (isPsbt(bytes)) return bytes;
  const text = new TextDecoder().decode(bytes).trim();
  if (text.startsWith("B$")) {
    const c = new Collector();
    for (const line of text.split(/\s+/)) if (line) c.add(line);
    if (!c.complete()) throw new Error(`The file holds ${c.have()} of ${c.total} BBQr parts.`);
    const j = c.join();
    if (j.type !== "P") throw new Error(`The BBQr parts carry type ${j.type}, not a PSBT (P).`);
    return j.data;
  }
  if (/^[A-Za-z0-9+/=\s]+$/.test(text)) {
    const b = unb64(text.replace(/\s+/g, ""));
    if (isPsbt(b)) return b;
  }
  throw new Error("This file is not a PSBT (binary, base64, or BBQr parts).");
}

export async function airGap(t: Transfer): Promise<HTMLElement> {
  const pkg = await call<Uint8Array>("GET", `/v1/transfers/${t.id}/package`, undefined, { accept: "bytes" });
  const pkgHash = await sha256Hex(pkg);
  const name = `kura-${t.id}.psbt`;
  const canvas = h("canvas", { id: "bbqr-canvas", class: "qr", role: "img", "aria-label": "The signing package as an animated BBQr code" }) as HTMLCanvasElement;
  const frameInfo = h("span", { id: "bbqr-frame", class: "mono", "aria-live": "off" });
  let enc: Encoding = "Z";
  let parts: string[] = [];
  let i = 0;
  let timer = 0;
  let interval = 500;
  const show = () => {
    qrDraw(canvas, parts[i], 4, "Alphanumeric");
    canvas.dataset.part = String(i);
    canvas.dataset.total = String(parts.length);
    frameInfo.textContent = `part ${i + 1} of ${parts.length} (${parts[i].slice(0, 8)})`;
  };
  const step = () => {
    i = (i + 1) % parts.length;
    show();
  };
  const play = () => {
    window.clearInterval(timer);
    timer = window.setInterval(() => (canvas.isConnected ? step() : window.clearInterval(timer)), interval);
  };
  const rebuild = () => {
    parts = split(pkg, { encoding: enc, type: "P", maxChars: 400 });
    i = 0;
    show();
    play();
  };
  const encSel = h("select", { id: "bbqr-encoding", onchange: (ev: Event) => { enc = (ev.currentTarget as HTMLSelectElement).value as Encoding; rebuild(); } },
    h("option", { value: "Z" }, "Z — compressed (smallest)"), h("option", { value: "2" }, "2 — base32"), h("option", { value: "H" }, "H — hex")) as HTMLSelectElement;
  const speed = h("select", { id: "bbqr-speed", onchange: (ev: Event) => { interval = Number((ev.currentTarget as HTMLSelectElement).value); play(); } },
    h("option", { value: "500" }, "2 frames a second"), h("option", { value: "250" }, "4 frames a second"), h("option", { value: "1000" }, "1 frame a second")) as HTMLSelectElement;
  let paused = false;
  const pause = button("Pause", () => {
    paused = !paused;
    if (paused) window.clearInterval(timer);
    else play();
    pause.textContent = paused ? "Play" : "Pause";
  }, "secondary", { id: "bbqr-pause" });
  const next = button("Next part", () => step(), "secondary", { id: "bbqr-next" });

  const file = h("input", { type: "file", id: "signed-file", accept: ".psbt,.txt,application/octet-stream,text/plain", multiple: true }) as HTMLInputElement;
  const out = status();
  const form = h("form", {
    class: "inline",
    onsubmit: async (ev: Event) => {
      ev.preventDefault();
      const files = Array.from(file.files || []);
      if (!files.length) {
        replace(out, notice("bad", "Choose the signed PSBT file(s) first."));
        return;
      }
      const btn = (ev.currentTarget as HTMLFormElement).querySelector("button") as HTMLButtonElement;
      if (await act(btn, out, async () => {
        let last: any = null;
        for (const f of files) {
          const psbt = readSignedPsbt(new Uint8Array(await f.arrayBuffer()));
          last = await call("POST", `/v1/transfers/${t.id}/signatures`, undefined, { raw: psbt });
        }
        return notice("ok", `Received. The transfer is now ${String(last?.state || "").replace(/_/g, " ")}.`);
      })) setTimeout(() => window.dispatchEvent(new HashChangeEvent("hashchange")), 600);
    },
  }, field("Signed PSBT file(s): binary, base64 or BBQr parts", file), h("button", { type: "submit", class: "btn btn-primary", id: "upload-signed" }, "Upload signed PSBT"));

  // BBQr parts typed (a handheld scanner in keyboard mode types one part a line)
  const typed = h("textarea", { id: "signed-parts", rows: 4, class: "mono", spellcheck: "false", autocomplete: "off" }) as HTMLTextAreaElement;
  const typedOut = status();
  const upload = async (psbt: Uint8Array, where: HTMLElement, btn: HTMLButtonElement | null) => {
    if (await act(btn, where, async () => {
      const r = await call<any>("POST", `/v1/transfers/${t.id}/signatures`, undefined, { raw: psbt });
      return notice("ok", `Received. The transfer is now ${String(r?.state || "").replace(/_/g, " ")}.`);
    })) setTimeout(() => window.dispatchEvent(new HashChangeEvent("hashchange")), 600);
  };
  const typedForm = h("form", {
    class: "inline",
    onsubmit: async (ev: Event) => {
      ev.preventDefault();
      const btn = (ev.currentTarget as HTMLFormElement).querySelector("button") as HTMLButtonElement;
      let psbt: Uint8Array;
      try {
        psbt = readSignedPsbt(new TextEncoder().encode(typed.value));
      } catch (e) {
        replace(typedOut, notice("bad", (e as Error).message));
        return;
      }
      await upload(psbt, typedOut, btn);
    },
  }, field("Or BBQr parts, one a line, any order (a scanner in keyboard mode types them here)", typed), h("button", { type: "submit", class: "btn btn-secondary", id: "upload-parts" }, "Upload scanned parts"));

  // the computer's camera: frames read with jsQR until every part is seen
  const video = h("video", { id: "camera-video", class: "camera", muted: true, playsinline: true, "aria-label": "The camera's picture" }) as HTMLVideoElement;
  const camOut = h("div", { id: "camera-status", role: "status", "aria-live": "polite" });
  let stream: MediaStream | null = null;
  const stopCamera = () => {
    stream?.getTracks().forEach((tr) => tr.stop());
    stream = null;
    video.hidden = true;
  };
  video.hidden = true;
  const camBtn = button("Scan with the camera", async () => {
    if (stream) {
      stopCamera();
      replace(camOut, "Camera off.");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      replace(camOut, notice("bad", `No camera: ${(e as Error).message}`));
      return;
    }
    video.hidden = false;
    video.srcObject = stream;
    await video.play().catch(() => {});
    const c = new Collector();
    const grab = document.createElement("canvas");
    const g = grab.getContext("2d", { willReadFrequently: true })!;
    replace(camOut, "Hold the signer's animated QR code in front of the camera…");
    const tick = async () => {
      if (!stream || !camBtn.isConnected) return stopCamera();
      if (video.videoWidth) {
        grab.width = video.videoWidth;
        grab.height = video.videoHeight;
        g.drawImage(video, 0, 0);
        const q = jsQR(g.getImageData(0, 0, grab.width, grab.height).data, grab.width, grab.height, { inversionAttempts: "dontInvert" });
        if (q && q.data.startsWith("B$")) {
          try {
            c.add(q.data);
            replace(camOut, `Read ${c.have()} of ${c.total} parts.`);
          } catch (e) {
            replace(camOut, notice("warn", (e as Error).message));
          }
          if (c.complete()) {
            stopCamera();
            try {
              const j = c.join();
              if (j.type !== "P") throw new Error(`The code carries type ${j.type}, not a PSBT.`);
              await upload(j.data, camOut, null);
            } catch (e) {
              replace(camOut, notice("bad", (e as Error).message));
            }
            return;
          }
        }
      }
      setTimeout(() => void tick(), 60);
    };
    void tick();
  }, "secondary", { id: "camera-scan" });

  const panel = card(
    "Air gap: the signing package",
    dl([
      ["Package", h("span", null, h("span", { class: "mono" }, `${pkg.length} bytes`), " — SHA-256 ", h("span", { class: "mono", id: "package-sha" }, pkgHash))],
      ["Signed PSBTs received", String(t.signatures_received)],
    ]),
    h("p", null, button("Download the package", () => download(name, pkg, "application/octet-stream"), "primary", { id: "dl-package" }),
      " then carry it to each signer (kura-cold sign FILE), or let the signer's camera read it here:"),
    h("div", { class: "bbqr" }, canvas, h("div", { class: "bbqr-controls" }, frameInfo, field("Encoding", encSel), field("Speed", speed), h("div", { class: "btn-row" }, pause, next))),
    h("h3", null, "Signed PSBTs back from the signers"),
    form,
    out,
    typedForm,
    typedOut,
    h("div", { class: "camera-row" }, camBtn, camOut),
    video,
  );
  rebuild();
  return panel;
}
