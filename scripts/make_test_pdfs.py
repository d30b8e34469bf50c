#!/usr/bin/python3
"""Writes the small PDFs the rag tests refuse, into tests/data/rag/:

  encrypted.pdf  one page encrypted with the PDF Standard Security Handler (V 1, R 2, 40-bit RC4;
                 PDF 1.7 spec, section 7.6.3, algorithms 2-4), user password "secret", owner
                 password "owner". Without the user password a reader cannot open it (poppler:
                 is_locked()); with it the page reads "Secret text on page one".
  no_text.pdf    two valid pages that only draw a rectangle: what a scan without OCR looks like
                 to a text extractor.

No PDF library is installed here (no qpdf, pypdf), so they are built by hand; the tests check with
poppler that the password unlocks the encrypted text, which proves the encryption is a real one.
Usage: /usr/bin/python3 scripts/make_test_pdfs.py [out_dir]
"""
import hashlib
import os
import struct
import sys

PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for b in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(b ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def padded(password):
    return (password + PAD)[:32]


def pdf_bytes(objects, trailer_extra=b""):
    """A PDF file of the numbered objects (bytes each), object 1 the catalog."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += str(num).encode() + b" 0 obj\n" + objects[num] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 " + str(size).encode() + b"\n0000000000 65535 f \n"
    for num in sorted(objects):
        out += b"%010d 00000 n \n" % offsets[num]
    out += (b"trailer\n<< /Size " + str(size).encode() + b" /Root 1 0 R " + trailer_extra + b">>\nstartxref\n"
            + str(xref).encode() + b"\n%%EOF\n")
    return bytes(out)


def stream(data):
    return b"<< /Length " + str(len(data)).encode() + b" >>\nstream\n" + data + b"\nendstream"


def encrypted_pdf():
    user, owner = b"secret", b"owner"
    permissions = -4  # all permissions (bits 3.. set)
    file_id = hashlib.md5(b"tunekit encrypted test pdf").digest()
    o_value = rc4(hashlib.md5(padded(owner)).digest()[:5], padded(user))                              # algorithm 3
    key = hashlib.md5(padded(user) + o_value + struct.pack("<i", permissions) + file_id).digest()[:5]  # algorithm 2
    u_value = rc4(key, PAD)                                                                             # algorithm 4

    def object_key(num, gen=0):  # algorithm 1
        return hashlib.md5(key + struct.pack("<I", num)[:3] + struct.pack("<H", gen)).digest()[:10]

    content = b"BT /F1 24 Tf 72 720 Td (Secret text on page one) Tj ET"
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
           b"/Resources << /Font << /F1 5 0 R >> >> >>",
        4: stream(rc4(object_key(4), content)),
        5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        6: b"<< /Filter /Standard /V 1 /R 2 /O <" + o_value.hex().encode() + b"> /U <" + u_value.hex().encode()
           + b"> /P " + str(permissions).encode() + b" >>",
    }
    ids = b"<" + file_id.hex().encode() + b">"
    return pdf_bytes(objects, b"/Encrypt 6 0 R /ID [" + ids + b" " + ids + b"] ")


def no_text_pdf():
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R >>"
    return pdf_bytes({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        3: page,
        4: page,
        5: stream(b"0.5 g 72 72 468 648 re f"),
    })


def main(out_dir):
    for name, data in (("encrypted.pdf", encrypted_pdf()), ("no_text.pdf", no_text_pdf())):
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/rag")
