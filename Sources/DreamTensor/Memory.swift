import Foundation

/// The machine's memory, for refusing work that cannot fit before it starts.
public enum Memory {
    /// Bytes the kernel says can be allocated without swapping (Linux MemAvailable), nil where unknown.
    public static func available() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }

    /// "1.2 GB"-style text for a byte count.
    public static func format(_ bytes: Double) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB"]
        var v = bytes, i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return i == 0 ? "\(Int(v)) bytes" : String(format: v < 10 ? "%.1f %@" : "%.0f %@", v, units[i])
    }

    /// Throws (with `what`, the estimate and what is available) when `bytes` would not fit in memory.
    public static func check(_ bytes: Double, for what: String) throws {
        guard let free = available(), bytes > Double(free) * 0.9 else { return }
        throw TensorError("\(what) needs about \(format(bytes)) of memory; \(format(Double(free))) is available")
    }
}

extension Tensor {
    /// How many elements are NaN or infinite; nil when every one is finite.
    public var nonFiniteCount: Int? {
        var n = 0
        for i in 0..<count where !pointer[i].isFinite { n += 1 }
        return n == 0 ? nil : n
    }
}
