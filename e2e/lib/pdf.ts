/** PDFs for the tests that upload one (a board deck, a chat handout), made on the spot with pdf-lib. */
import { PDFDocument, rgb } from "pdf-lib";

/** One page per colour (red, green, blue from 0 to 1), each filled with it; `size` in PDF points, 4:3 unless told. */
export async function plainColourPdf(colours: readonly (readonly [number, number, number])[], size: [number, number] = [400, 300]): Promise<Buffer> {
  const pdf = await PDFDocument.create();
  for (const [r, g, b] of colours) {
    const page = pdf.addPage(size);
    page.drawRectangle({ x: 0, y: 0, width: size[0], height: size[1], color: rgb(r, g, b) });
  }
  return Buffer.from(await pdf.save());
}
