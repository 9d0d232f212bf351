"""Reading back the QR codes the bot makes: a small PNG reader (zlib and the PNG filters, so
no image library is needed) and zxing-cpp's decoder (a wheel from PyPI, test extra only)."""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _chunks(data: bytes):
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in the {kind!r} chunk"
        yield kind, body
        position += 12 + length


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def png_to_grey(data: bytes) -> np.ndarray:
    """A non-interlaced greyscale, palette or RGB(A) PNG as an 8-bit grey image."""
    chunks = list(_chunks(data))
    header = dict(chunks)[b"IHDR"]
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert interlace == 0, "interlaced PNG"
    channels = CHANNELS[colour]
    stride = (width * channels * depth + 7) // 8
    step = max(1, channels * depth // 8)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - step] if x >= step else 0
            up, corner = previous[x], previous[x - step] if x >= step else 0
            line[x] = (
                line[x] + (0, left, up, (left + up) // 2, _paeth(left, up, corner))[kind]
            ) & 255
        rows.append(bytes(line))
        previous = line
    if depth < 8:
        bits = np.unpackbits(
            np.frombuffer(b"".join(rows), np.uint8).reshape(height, stride), axis=1
        )
        values = bits.reshape(height, -1, depth)[:, :width, :]
        samples = (values * (1 << np.arange(depth - 1, -1, -1))).sum(axis=2).astype(np.uint16)
    else:
        samples = np.frombuffer(b"".join(rows), np.uint8).reshape(height, width, channels)
    if colour == 3:
        palette = np.frombuffer(dict(chunks)[b"PLTE"], np.uint8).reshape(-1, 3)
        return palette[samples].mean(axis=2).astype(np.uint8)
    if colour == 0:
        return (samples * (255 // ((1 << depth) - 1))).astype(np.uint8)
    return samples[:, :, :3].mean(axis=2).astype(np.uint8)


def decode_qr(png: bytes) -> str:
    """The text of the one QR code in a PNG image."""
    import zxingcpp

    found = zxingcpp.read_barcodes(png_to_grey(png), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"expected one QR code, found {len(found)}"
    return found[0].text
