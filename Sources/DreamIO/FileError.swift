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
/// A process killed outright (SIGKILL, power loss) mid-write cannot remove its temporary file; the next
/// write of the same target does. Each writer holds an exclusive lock on its temporary file while it
/// lives, and the kernel drops the lock when the process dies, so a temporary file whose lock can be
/// taken is a dead writer's and safe to remove, while one a live writer holds is left alone.
public func writeAtomically(_ path: String, _ body: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    // A missing output folder is made, as a user writing "out/grid.png" expects.
    if !FileManager.default.fileExists(atPath: dir) { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    let prefix = ".\(url.lastPathComponent).tmp-"
    removeDeadWritersFiles(in: dir, prefix: prefix)
    var (fd, tmp) = (Int32(-1), "")
    while true {
        var template = Array((dir + "/" + prefix + "XXXXXX").utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FileError(path, "cannot create a file in \(dir): \(String(cString: strerror(errno)))") }
        tmp = String(cString: template)
        // Another writer's clean-up may have taken the lock and removed the file between mkstemp and
        // flock; a file that is gone (no links) is given up and another made.
        var st = stat()
        if flock(fd, LOCK_EX) == 0, fstat(fd, &st) == 0, st.st_nlink > 0 { break }
        close(fd)
    }
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

/// Removes the temporary files `prefix*` in `dir` whose writer is dead (their lock is free).
private func removeDeadWritersFiles(in dir: String, prefix: String) {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
    for name in names where name.hasPrefix(prefix) {
        let file = dir + "/" + name
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { continue }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { unlink(file) }
        close(fd)
    }
}

/// Reads a whole file, with an error that names it.
func readWholeFile(_ path: String) throws -> Data {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw FileError(path, "no such file") }
    guard !isDir.boolValue else { throw FileError(path, "is a directory, not a file") }
    guard let data = FileManager.default.contents(atPath: path) else { throw FileError(path, "cannot be read") }
    return data
}
