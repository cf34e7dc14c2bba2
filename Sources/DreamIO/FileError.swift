import Foundation

/// A problem with a file: says which file and what is wrong with it.
public struct FileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String
    public init(_ path: String, _ problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): \(problem)" }
}

/// Writes a file so that readers see either the old contents or the complete new ones: the bytes go to
/// a temporary file beside the target, which is renamed over it only after everything was written.
public func writeAtomically(_ path: String, _ body: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    // A missing output folder is made, as a user writing "out/grid.png" expects.
    if !FileManager.default.fileExists(atPath: dir) { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    var template = Array((dir + "/.\(url.lastPathComponent).tmp-XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { throw FileError(path, "cannot create a file in \(dir): \(String(cString: strerror(errno)))") }
    let tmp = String(cString: template)
    var ok = false
    defer {
        close(fd)
        if !ok { unlink(tmp) }
    }
    try body { bytes in
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path, "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
    guard fsync(fd) == 0 else { throw FileError(path, "write failed: \(String(cString: strerror(errno)))") }
    fchmod(fd, 0o644)
    guard rename(tmp, path) == 0 else { throw FileError(path, "cannot replace the file: \(String(cString: strerror(errno)))") }
    ok = true
}

/// Reads a whole file, with an error that names it.
func readWholeFile(_ path: String) throws -> Data {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw FileError(path, "no such file") }
    guard !isDir.boolValue else { throw FileError(path, "is a directory, not a file") }
    guard let data = FileManager.default.contents(atPath: path) else { throw FileError(path, "cannot be read") }
    return data
}
