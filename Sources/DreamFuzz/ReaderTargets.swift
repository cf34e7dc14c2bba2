import Foundation
import DreamTensor
import DreamIO
import DreamModels
import DreamMethod

/// What one fuzz input did: read (or loaded and called) cleanly, or was refused with an error.
public enum FuzzOutcome: Equatable { case accepted, refused }

/// The file readers as fuzz targets: each takes the bytes of a file, writes them where the reader expects a
/// path, and reads them the way dream does (every tensor of a safetensors file, a PNG decoded, a distribution
/// file rebuilt on its model). Shared by the seeded fuzz tests and by `dream-fuzz` (libFuzzer).
public final class ReaderTarget {
    public let name: String
    let read: (String) throws -> Void
    let path: String

    /// `folder` holds the file each input is written to (a tmpfs is fastest).
    init(_ name: String, folder: String, read: @escaping (String) throws -> Void) {
        self.name = name
        self.read = read
        self.path = folder + "/fuzz-input-\(name)-\(getpid())"
    }

    deinit { unlink(path) }

    public func run(_ bytes: [UInt8]) throws -> FuzzOutcome {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do { try read(path); return .accepted } catch { return .refused }
    }

    public static func safetensors(folder: String) -> ReaderTarget {
        ReaderTarget("safetensors", folder: folder) { p in
            let f = try SafeTensorsFile(path: p)
            for n in f.names { _ = try f.tensor(n) }
        }
    }

    public static func png(folder: String) -> ReaderTarget {
        ReaderTarget("png", folder: folder) { p in _ = try PNG.read(p) }
    }

    /// Distribution files name their model; every input is rebuilt on `model`, whatever it names.
    public static func distribution(folder: String, model: StableDiffusion) -> ReaderTarget {
        ReaderTarget("distribution", folder: folder) { p in
            _ = try DistributionFile.load(try SafeTensorsFile(path: p)) { _ in model }
        }
    }
}
