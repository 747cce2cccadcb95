// The canvas frames of the overlay feed (/overlay/ws; the format is in
// drawstreamd/control/overlay.py), painted onto a <canvas>. The overlay and the moderator
// page both show the picture on air with it.
//
//   const painter = drawstreamd.canvasPainter(canvasElement);
//   painter.paint(arrayBuffer);   // true for a whole frame, false for a delta; throws if bad
//   painter.image                 // the ImageData painted last (null before a whole frame)
"use strict";

(() => {
  const FULL = 1;
  const DELTA = 2;

  function canvasPainter(canvas) {
    const ctx = canvas.getContext("2d", { alpha: false });
    let image = null;

    function whole(bytes, view) {
      const w = view.getUint16(1, true);
      const h = view.getUint16(3, true);
      if (bytes.length !== 5 + w * h * 3) throw new Error("bad full frame");
      if (!image || image.width !== w || image.height !== h) {
        canvas.width = w;
        canvas.height = h;
        image = ctx.createImageData(w, h);
      }
      const px = image.data;
      for (let i = 0, j = 5; i < w * h * 4; i += 4, j += 3) {
        px[i] = bytes[j];
        px[i + 1] = bytes[j + 1];
        px[i + 2] = bytes[j + 2];
        px[i + 3] = 255;
      }
    }

    function spans(bytes, view) {
      if (!image) throw new Error("delta before a full frame");
      const w = image.width;
      const px = image.data;
      let p = 1;
      while (p < bytes.length) {
        if (p + 6 > bytes.length) throw new Error("bad delta");
        const y = view.getUint16(p, true);
        const x = view.getUint16(p + 2, true);
        const n = view.getUint16(p + 4, true);
        p += 6;
        if (y >= image.height || x + n > w || p + n * 3 > bytes.length) throw new Error("bad span");
        for (let k = 0, i = (y * w + x) * 4; k < n; k++, i += 4, p += 3) {
          px[i] = bytes[p];
          px[i + 1] = bytes[p + 1];
          px[i + 2] = bytes[p + 2];
          px[i + 3] = 255;
        }
      }
    }

    function paint(buf) {
      const bytes = new Uint8Array(buf);
      const view = new DataView(buf);
      const kind = bytes[0];
      if (kind === FULL) whole(bytes, view);
      else if (kind === DELTA) spans(bytes, view);
      else throw new Error(`unknown frame kind ${kind}`);
      ctx.putImageData(image, 0, 0);
      return kind === FULL;
    }

    return {
      paint,
      get image() {
        return image;
      },
    };
  }

  window.drawstreamd = Object.assign(window.drawstreamd || {}, { canvasPainter });
})();
