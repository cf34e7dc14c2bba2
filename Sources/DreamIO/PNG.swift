import Foundation
import CPNG
import DreamTensor

/// PNG files through libpng's simplified API (png_image_*), which reports errors in the image struct
/// instead of longjmp-ing through Swift frames.
public enum PNG {
    /// Images larger than this many pixels are refused before any allocation.
    public static let maxPixels = 1 << 26

    static let formatAlpha: UInt32 = 0x01, formatColor: UInt32 = 0x02, formatLinear: UInt32 = 0x04

    static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Reads any PNG (8/16-bit gray, gray+alpha, RGB, RGBA, palette) as [1, 3, H, W] in [0, 1].
    /// Alpha is dropped (the stored colour is kept), as PIL's convert("RGB") does.
    public static func read(_ path: String) throws -> Tensor {
        let data = try readWholeFile(path)
        guard !data.isEmpty else { throw FileError(path, "PNG file is empty") }
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard data.count >= 8, Array(data.prefix(8)) == signature else { throw FileError(path, "not a PNG file (bad signature)") }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let begun = data.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw FileError(path, "invalid PNG: \(message(&image))") }
        let (w, h) = (Int(image.width), Int(image.height))
        guard w > 0, h > 0, w * h <= maxPixels else {
            throw FileError(path, "PNG dimensions \(w)×\(h) are absurd (at most \(maxPixels) pixels)")
        }
        // 16-bit files are read at 16 bits (libpng's linear format: no gamma conversion of the stored
        // values); 8-bit files at 8 bits.
        let sixteen = image.format & formatLinear != 0
        image.format = formatColor | formatAlpha | (sixteen ? formatLinear : 0)
        let out = Tensor(zeros: [1, 3, h, w])
        let plane = h * w, p = out.pointer
        if sixteen {
            var buf = [UInt16](repeating: 0, count: 4 * plane)
            let ok = buf.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw FileError(path, "invalid PNG: \(message(&image))") }
            for i in 0..<plane {
                // The linear format is premultiplied by alpha: undo it to get the stored colour.
                let a = Float(buf[4 * i + 3])
                for c in 0..<3 {
                    let v = Float(buf[4 * i + c])
                    p[c * plane + i] = a > 0 ? Swift.min(1, v / a) : 0
                }
            }
        } else {
            var buf = [UInt8](repeating: 0, count: 4 * plane)
            let ok = buf.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw FileError(path, "invalid PNG: \(message(&image))") }
            for i in 0..<plane {
                for c in 0..<3 { p[c * plane + i] = Float(buf[4 * i + c]) / 255 }
            }
        }
        return out
    }

    /// Lays out a batch [N, C, H, W] (C = 3 or 4) as one image: `columns` per row (default ⌈√N⌉) with
    /// a 2-pixel white gap. Returns [C, H', W'].
    public static func grid(_ images: Tensor, columns: Int? = nil) throws -> Tensor {
        try require(images.rank == 4 && (images.shape[1] == 3 || images.shape[1] == 4),
                    "expected an image batch [N, 3, H, W] or [N, 4, H, W], got \(shapeString(images.shape))")
        let (n, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        try require(n > 0, "cannot write an empty image batch")
        let cols = Swift.max(1, Swift.min(n, columns ?? Int(Double(n).squareRoot().rounded(.up))))
        let rows = (n + cols - 1) / cols
        if n == 1 { return try images.reshaped([c, h, w]) }
        let gap = 2
        let gh = rows * h + (rows - 1) * gap, gw = cols * w + (cols - 1) * gap
        let out = Tensor(repeating: 1, shape: [c, gh, gw])
        for i in 0..<n {
            let (r, col) = (i / cols, i % cols)
            for ch in 0..<c {
                for y in 0..<h {
                    let src = images.pointer + ((i * c + ch) * h + y) * w
                    let dst = out.pointer + (ch * gh + r * (h + gap) + y) * gw + col * (w + gap)
                    dst.update(from: src, count: w)
                }
            }
        }
        return out
    }

    /// Writes an image batch as an 8-bit RGB (3 channels) or RGBA (4 channels) PNG, several images as
    /// a grid, atomically.
    public static func write(_ images: Tensor, to path: String, columns: Int? = nil) throws {
        let encoded: [UInt8]
        do { encoded = try encode(images, columns: columns) } catch let e as TensorError { throw FileError(path, e.message) }
        try writeAtomically(path) { write in try encoded.withUnsafeBytes { try write($0) } }
    }

    /// The PNG file's bytes for an image batch (a grid when several), as `write` stores them.
    public static func encode(_ images: Tensor, columns: Int? = nil) throws -> [UInt8] {
        if let bad = images.nonFiniteCount {
            throw TensorError("the images hold \(bad) NaN or infinite values; nothing was written (a PNG cannot show them)")
        }
        let g = try grid(images, columns: columns)
        let (c, h, w) = (g.shape[0], g.shape[1], g.shape[2])
        try require(w * h <= maxPixels, "image \(w)×\(h) is too large to write")
        var pixels = [UInt8](repeating: 0, count: c * h * w)
        let plane = h * w
        for i in 0..<plane {
            for ch in 0..<c {
                let v = g.pointer[ch * plane + i]
                pixels[i * c + ch] = UInt8((v.isNaN ? 0 : Swift.min(Swift.max(v, 0), 1)) * 255 + 0.5)
            }
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(w); image.height = UInt32(h)
        image.format = formatColor | (c == 4 ? formatAlpha : 0)
        var size: png_alloc_size_t = 0
        let probe = pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        try require(probe != 0, "cannot encode PNG: \(message(&image))")
        var encoded = [UInt8](repeating: 0, count: Int(size))
        let ok = encoded.withUnsafeMutableBytes { out in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        try require(ok != 0, "cannot encode PNG: \(message(&image))")
        return Array(encoded.prefix(Int(size)))
    }
}
