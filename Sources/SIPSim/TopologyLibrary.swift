public import Foundation

/// Where topologies come from: a file path, or a name from the bundled `Topologies/` folder of
/// this package (found next to the sources it was built from, or in the current directory, or
/// in `$SIPSIM_TOPOLOGIES`).
public enum TopologyLibrary {
  /// The folders searched for bundled topologies, in order.
  public static var searchPaths: [URL] {
    var paths: [URL] = []
    if let custom = ProcessInfo.processInfo.environment["SIPSIM_TOPOLOGIES"], !custom.isEmpty {
      paths.append(URL(fileURLWithPath: custom))
    }
    // Sources/SIPSim/TopologyLibrary.swift → the package root.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    paths.append(root.appendingPathComponent("Topologies"))
    paths.append(
      URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(
        "Topologies"))
    return paths
  }

  /// The bundled folder: the first search path that exists.
  public static var folder: URL? {
    searchPaths.first { url in
      var isDirectory: ObjCBool = false
      return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        && isDirectory.boolValue
    }
  }

  /// Bundled topology names, sorted.
  public static func names() -> [String] {
    guard let folder,
      let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
    else { return [] }
    return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
  }

  /// Loads `nameOrPath`: a path when it names an existing file or ends in `.json`, else a
  /// bundled name.
  public static func load(_ nameOrPath: String) throws(TopologyError) -> Topology {
    let url: URL
    // Errors name a file the way the user wrote it (a relative path stays relative); a
    // bundled topology's by where it was found.
    let shown: String
    if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/")
      || FileManager.default.fileExists(atPath: nameOrPath)
    {
      url = URL(fileURLWithPath: nameOrPath)
      shown = nameOrPath
    } else {
      guard let folder else {
        throw TopologyError(
          file: nameOrPath, path: "$",
          message: "no bundled Topologies folder found (looked in "
            + searchPaths.map(\.path).joined(separator: ", ") + ")")
      }
      url = folder.appendingPathComponent(nameOrPath + ".json")
      guard FileManager.default.fileExists(atPath: url.path) else {
        throw TopologyError(
          file: nameOrPath, path: "$",
          message: "no bundled topology named '\(nameOrPath)'; `sipsim list` shows them: "
            + names().joined(separator: ", "))
      }
      shown = url.path
    }
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw TopologyError(file: shown, path: "$", message: "cannot read the file")
    }
    var topology = try decode(data, file: shown)
    if topology.name.isEmpty { topology.name = url.deletingPathExtension().lastPathComponent }
    return topology
  }

  /// Decodes a topology from JSON bytes; the error names `file`, the JSON path and, for
  /// broken JSON, the line and column.
  public static func decode(_ data: Data, file: String? = nil) throws(TopologyError) -> Topology {
    do {
      return try JSONDecoder().decode(Topology.self, from: data)
    } catch let error as DecodingError {
      var failure = error.topologyError
      failure.file = file
      if failure.path == "$", case .dataCorrupted = error,
        let position = SyntaxCheck.firstError(in: Array(data))
      {
        failure.message =
          "invalid JSON at line \(position.line), column \(position.column): "
          + position.message
      }
      throw failure
    } catch {
      throw TopologyError(file: file, path: "$", message: "\(error)")
    }
  }
}

/// Finds where JSON text first goes wrong, with its line and column, so a broken file gets a
/// message that points into it (Foundation's decoder does not always say where).
enum SyntaxCheck {
  struct Position {
    var line: Int
    var column: Int
    var message: String
  }

  static func firstError(in bytes: [UInt8]) -> Position? {
    var index = 0
    func position(_ message: String) -> Position {
      var line = 1
      var column = 1
      for byte in bytes[..<min(index, bytes.count)] {
        if byte == 10 {
          line += 1
          column = 1
        } else if byte & 0xC0 != 0x80 {
          column += 1
        }
      }
      return Position(line: line, column: column, message: message)
    }
    func skipSpace() {
      while index < bytes.count, [9, 10, 13, 32].contains(bytes[index]) { index += 1 }
    }
    func describe() -> String {
      index < bytes.count
        ? "unexpected '\(Character(UnicodeScalar(bytes[index])))'" : "unexpected end of file"
    }
    /// After an element of an object or array: `,` means another follows (nil), the closing
    /// bracket ends the container (`.some(nil)`), anything else is the error.
    func afterElement(closing: UInt8) -> Position?? {
      skipSpace()
      guard index < bytes.count else { return position("unexpected end of file") }
      if bytes[index] == UInt8(ascii: ",") {
        index += 1
        return nil
      }
      if bytes[index] == closing {
        index += 1
        return .some(nil)
      }
      return position("expected ',' or '\(Character(UnicodeScalar(closing)))', " + describe())
    }
    func value(_ depth: Int) -> Position? {
      if depth > 200 { return position("nested too deeply") }
      skipSpace()
      guard index < bytes.count else { return position("unexpected end of file") }
      switch bytes[index] {
      case UInt8(ascii: "{"):
        index += 1
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
          index += 1
          return nil
        }
        while true {
          skipSpace()
          guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            return position("expected a quoted key, " + describe())
          }
          if let error = string() { return error }
          skipSpace()
          guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
            return position("expected ':' after a key, " + describe())
          }
          index += 1
          if let error = value(depth + 1) { return error }
          if let end = afterElement(closing: UInt8(ascii: "}")) { return end }
        }
      case UInt8(ascii: "["):
        index += 1
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
          index += 1
          return nil
        }
        while true {
          if let error = value(depth + 1) { return error }
          if let end = afterElement(closing: UInt8(ascii: "]")) { return end }
        }
      case UInt8(ascii: "\""):
        return string()
      default:
        let start = index
        while index < bytes.count,
          !([9, 10, 13, 32] + Array(",]}:".utf8)).contains(bytes[index])
        {
          index += 1
        }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        if ["true", "false", "null"].contains(token) || Double(token) != nil { return nil }
        index = start
        return position("expected a value, " + describe())
      }
    }
    func string() -> Position? {
      index += 1
      while index < bytes.count {
        switch bytes[index] {
        case UInt8(ascii: "\\"): index += 2
        case UInt8(ascii: "\""):
          index += 1
          return nil
        case 0..<32: return position("control character in a string")
        default: index += 1
        }
      }
      return position("unterminated string")
    }
    if let error = value(0) { return error }
    skipSpace()
    return index < bytes.count ? position("extra text after the JSON value, " + describe()) : nil
  }
}
