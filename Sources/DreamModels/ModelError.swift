import Foundation
import DreamTensor
import DreamIO

/// A problem with a model: its files, config or architecture.
public struct ModelError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
