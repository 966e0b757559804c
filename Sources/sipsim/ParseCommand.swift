import Foundation
import SIPCore
import Simulation

/// `sipsim parse FILE...`: parses each file as one message with datagram semantics and prints a
/// verdict per file. Exit 0 when every message is valid, 1 when one is not, 2 on a usage error
/// or an unreadable file.
enum ParseCommand {
  static let usage = """
    usage: sipsim parse [--json] FILE...

      Parses each FILE as one SIP message (datagram semantics, RFC 3261 §18.3) and prints
        FILE: ok <start line>[; an element would answer <code> <reason>]
        FILE: invalid: <reason> (line L, column C)
      --json   one object per line: {"file", "valid", "startLine", "headerCount", "error", "response"}
    """

  static func run(_ arguments: [String]) -> Int32 {
    var json = false
    var files: [String] = []
    for argument in arguments {
      switch argument {
      case "--json": json = true
      case "--help", "-h":
        print(usage)
        return 0
      default:
        if argument.hasPrefix("-") && argument != "-" {
          CLI.fail("unknown option '\(argument)' for parse", usage: usage)
          return 2
        }
        files.append(argument)
      }
    }
    guard !files.isEmpty else {
      CLI.fail("parse needs at least one file", usage: usage)
      return 2
    }
    var status: Int32 = 0
    for file in files {
      guard let data = FileManager.default.contents(atPath: file) else {
        CLI.fail("cannot read '\(file)': no such file or not readable")
        status = 2
        continue
      }
      let report = Report(file: file, bytes: Array(data))
      print(json ? report.json : report.text)
      if !report.valid && status == 0 { status = 1 }
    }
    return status
  }

  /// The verdict on one file.
  struct Report {
    var file: String
    var valid = false
    var startLine: String?
    var headerCount: Int?
    var error: String?
    var response: String?

    init(file: String, bytes: [UInt8]) {
      self.file = file
      do {
        let message = try SIPMessage.parse(bytes)
        startLine = message.startLineText
        headerCount = message.headers.count
        switch message.check() {
        case .acceptable:
          valid = true
        case .answer(let suggested):
          valid = true
          response = suggested.description
        case .invalid(let error, let suggested):
          self.error = error.description
          response = suggested?.description
        }
      } catch {
        self.error = error.description
      }
    }

    var text: String {
      if valid, let startLine {
        return "\(file): ok \(startLine)"
          + (response.map { "; an element would answer \($0)" } ?? "")
      }
      // The response an element would send is in the --json output ("response").
      return "\(file): invalid: \(error ?? "unknown error")"
    }

    var json: String {
      let quoted = JSONString.quoted
      return
        "{\"file\": \(quoted(file)), \"valid\": \(valid), \"startLine\": \(quoted(startLine)), "
        + "\"headerCount\": \(headerCount.map(String.init) ?? "null"), \"error\": \(quoted(error)), "
        + "\"response\": \(quoted(response))}"
    }
  }
}
