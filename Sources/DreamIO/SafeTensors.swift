import Foundation
import DreamTensor

/// A safetensors file (8-byte little-endian header length, JSON header, raw data), memory-mapped and
/// validated on open; each tensor is converted to Float32 only when asked for.
public final class SafeTensorsFile {
    public struct Entry: Equatable {
        public let dtype: DType
        public let shape: [Int]
        /// Byte range within the data section.
        public let range: Range<Int>
    }

    public let path: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    /// Tensor names in file order (by data offset); the scales of row-quantized tensors are not listed
    /// (they are part of their tensor, see `SafeTensors.save(int8:)`).
    public let names: [String]
    /// Row-quantized tensors: name → the name of their per-row scales.
    public let scales: [String: String]
    private let base: UnsafeMutableRawPointer?
    private let mappedLength: Int
    private let dataStart: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw FileError(path, errno == ENOENT ? "no such file" : "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError(path, "cannot stat: \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError(path, "is not a regular file") }
        let size = Int(st.st_size)
        guard size > 0 else { throw FileError(path, "safetensors file is empty") }
        guard size >= 8 else { throw FileError(path, "safetensors file is truncated: \(size) bytes, too short for the 8-byte header length") }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw FileError(path, "cannot map the file: \(String(cString: strerror(errno)))")
        }
        base = map
        mappedLength = size
        do {
            let headerLength = Int(clamping: map.loadUnaligned(as: UInt64.self).littleEndian)
            guard headerLength <= size - 8 else {
                throw FileError(path, "safetensors header length \(headerLength) is beyond the end of the file (\(size) bytes)")
            }
            guard headerLength <= 100 << 20 else { throw FileError(path, "safetensors header length \(headerLength) is absurdly large") }
            dataStart = 8 + headerLength
            let headerData = Data(bytes: map + 8, count: headerLength)
            let parsed = try SafeTensorsFile.parseHeader(headerData, dataSize: size - dataStart, path: path)
            metadata = parsed.metadata
            entries = parsed.entries
            var scales: [String: String] = [:]
            for (name, e) in parsed.entries where e.dtype == .int8 && !e.shape.isEmpty {
                let scale = name + ".scale"
                guard let s = parsed.entries[scale] else { continue }
                guard s.shape == [e.shape[0]], s.dtype == .float32 || s.dtype == .float16 else {
                    throw FileError(path, "tensor '\(scale)': \(s.dtype.rawValue) \(shapeString(s.shape)), but the scales of I8 \(shapeString(e.shape)) must be float [\(e.shape[0])]")
                }
                scales[name] = scale
            }
            self.scales = scales
            let hidden = Set(scales.values)
            names = parsed.entries.sorted { ($0.value.range.lowerBound, $0.key) < ($1.value.range.lowerBound, $1.key) }.map(\.key).filter { !hidden.contains($0) }
        } catch {
            munmap(map, size)
            throw error
        }
    }

    deinit { if let base { munmap(base, mappedLength) } }

    static func parseHeader(_ data: Data, dataSize: Int, path: String) throws -> (metadata: [String: String], entries: [String: Entry]) {
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data, options: []) } catch {
            throw FileError(path, "safetensors header is not valid JSON")
        }
        guard let top = json as? [String: Any] else { throw FileError(path, "safetensors header is not a JSON object") }
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        func integer(_ v: Any) -> Int? {
            guard let n = v as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
            let d = n.doubleValue
            return Int(exactly: d)
        }
        for (name, value) in top {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw FileError(path, "safetensors __metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw FileError(path, "safetensors metadata '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw FileError(path, "tensor '\(name)': header entry is not an object") }
            guard let dt = info["dtype"] as? String else { throw FileError(path, "tensor '\(name)': missing dtype") }
            guard let dtype = DType(rawValue: dt) else {
                throw FileError(path, "tensor '\(name)': unknown dtype '\(dt)' (known: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let rawShape = info["shape"] as? [Any] else { throw FileError(path, "tensor '\(name)': missing shape") }
            let dims = rawShape.map(integer)
            guard dims.allSatisfy({ $0 != nil }) else { throw FileError(path, "tensor '\(name)': shape \(rawShape) is not a list of integers") }
            let shape = dims.map { $0! }
            if let neg = shape.first(where: { $0 < 0 }) {
                throw FileError(path, "tensor '\(name)': negative dimension \(neg) in shape \(shapeString(shape))")
            }
            guard let offs = info["data_offsets"] as? [Any], offs.count == 2, let begin = integer(offs[0]), let end = integer(offs[1]) else {
                throw FileError(path, "tensor '\(name)': data_offsets must be two integers")
            }
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw FileError(path, "tensor '\(name)': data offsets [\(begin), \(end)] are outside the data section (\(dataSize) bytes)")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d); return (p, acc.1 || o)
            }
            let expected = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, !expected.overflow, expected.partialValue == end - begin else {
                throw FileError(path, "tensor '\(name)': \(end - begin) bytes of data, but \(dtype.rawValue) \(shapeString(shape)) needs \(overflow ? "an absurd number of" : String(expected.partialValue))")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: begin..<end)
        }
        let sorted = entries.sorted { ($0.value.range.lowerBound, $0.key) < ($1.value.range.lowerBound, $1.key) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.value.range.lowerBound < a.value.range.upperBound {
            throw FileError(path, "tensors '\(a.key)' and '\(b.key)' overlap in the data section")
        }
        return (metadata, entries)
    }

    /// The raw bytes of a tensor, as stored.
    public func bytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let e = entries[name] else { throw FileError(path, "no tensor named '\(name)'") }
        return UnsafeRawBufferPointer(start: base! + dataStart + e.range.lowerBound, count: e.range.count)
    }

    /// A tensor converted to Float32 (a row-quantized one times its row scales).
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw FileError(path, "no tensor named '\(name)'") }
        let t = Tensor(zeros: e.shape)
        e.dtype.convert(try bytes(name).baseAddress ?? UnsafeRawPointer(base!), count: t.count, to: t.pointer)
        if let scale = scales[name], t.count > 0 {
            let s = try tensor(scale), width = t.count / e.shape[0], p = t.pointer
            for r in 0..<e.shape[0] { for i in r * width..<(r + 1) * width { p[i] *= s.pointer[r] } }
        }
        return t
    }

    /// Every tensor, converted.
    public func all() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for n in names { out[n] = try tensor(n) }
        return out
    }
}

public enum SafeTensors {
    /// Writes tensors and string metadata as a safetensors file, atomically: Float32, or rounded to half
    /// precision with `half` (committed model weights). With `int8`, every matrix and kernel (rank ≥ 2) is
    /// stored row-quantized instead: I8 values q and Float32 scales s per row (first axis) under
    /// "NAME.scale", the value being q × s, s = the row's largest magnitude / 127. A quarter of the size of
    /// Float32 for a weight error of at most half a step, which the built-in UNet's images do not show
    /// (docs/builtin-model.md); `SafeTensorsFile.tensor` reads it back as Float32.
    public static func save(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String, half: Bool = false, int8: Bool = false) throws {
        // What is written: each tensor's name, dtype and bytes.
        var parts: [(name: String, dtype: DType, shape: [Int], data: [UInt8])] = []
        for n in tensors.keys.sorted() {
            let t = tensors[n]!
            if int8 && t.shape.count >= 2 && t.count > 0 {
                let rows = t.shape[0], width = t.count / rows
                var q = [UInt8](repeating: 0, count: t.count), scales = Tensor(zeros: [rows])
                for r in 0..<rows {
                    var m: Float = 0
                    for i in r * width..<(r + 1) * width { m = max(m, abs(t.pointer[i])) }
                    let s = m / 127
                    scales.pointer[r] = s
                    for i in r * width..<(r + 1) * width {
                        q[i] = UInt8(bitPattern: s > 0 ? Int8(max(-127, min(127, (t.pointer[i] / s).rounded()))) : 0)
                    }
                }
                parts.append((n, .int8, t.shape, q))
                parts.append((n + ".scale", .float32, [rows], bytes(of: scales)))
            } else if half {
                let h = (0..<t.count).map { Float16(t.pointer[$0]).bitPattern.littleEndian }
                parts.append((n, .float16, t.shape, h.withUnsafeBytes { Array($0) }))
            } else {
                parts.append((n, .float32, t.shape, bytes(of: t)))
            }
        }
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for p in parts {
            header[p.name] = ["dtype": p.dtype.rawValue, "shape": p.shape, "data_offsets": [offset, offset + p.data.count]] as [String: Any]
            offset += p.data.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        while json.count % 8 != 0 { json.append(0x20) }
        try writeAtomically(path) { write in
            var len = UInt64(json.count).littleEndian
            try withUnsafeBytes(of: &len) { try write($0) }
            try json.withUnsafeBytes { try write($0) }
            for p in parts { try p.data.withUnsafeBytes { try write($0) } }
        }
    }

    static func bytes(of t: Tensor) -> [UInt8] { Array(UnsafeRawBufferPointer(start: t.pointer, count: 4 * t.count)) }
}
