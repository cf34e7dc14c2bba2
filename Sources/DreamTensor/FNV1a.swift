import Foundation

/// FNV-1a, 64 bits: a fast, stable hash of bytes for names and identities (cache files, a model's config,
/// weight initialisation by key). Not for security.
public struct FNV1a {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}

    public mutating func add<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x100_0000_01b3 }
    }

    public static func hash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h = FNV1a()
        h.add(bytes)
        return h.value
    }

    /// The value as 16 hex digits.
    public var hex: String { String(format: "%016llx", value) }
}
