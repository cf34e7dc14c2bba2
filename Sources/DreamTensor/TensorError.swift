/// Every engine op reports bad input (shapes, axes, values) by throwing this, never by crashing,
/// so that an interactive session survives a mistake.
public struct TensorError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

@inline(__always)
public func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw TensorError(message()) }
}

/// Shapes as users write them: [2, 3].
public func shapeString(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
