#include "trainer/csv.h"

#include <zlib.h>

namespace fedledger::trainer {
namespace {

std::vector<std::string> SplitLine(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(std::move(cur));
  return out;
}

std::string Quote(const std::string& f) {
  if (f.find_first_of(",\"") == std::string::npos) return f;
  std::string q = "\"";
  for (char c : f) q += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<CsvTable> ReadCsv(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files transparently
  if (!f) return Status::NotFound("cannot open " + path);
  gzbuffer(f, 1 << 17);
  CsvTable table;
  std::string line;
  char buf[1 << 16];
  size_t line_no = 0;
  Status status;
  bool eof = false;
  while (!eof && status.ok()) {
    line.clear();
    for (;;) {
      if (!gzgets(f, buf, sizeof(buf))) {
        eof = true;
        break;
      }
      line += buf;
      if (!line.empty() && line.back() == '\n') break;
    }
    if (eof && line.empty()) break;
    ++line_no;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> fields = SplitLine(line);
    if (table.header.empty()) {
      table.header = std::move(fields);
    } else if (fields.size() != table.header.size()) {
      status = Status::InvalidArgument(path + ":" + std::to_string(line_no) + ": " +
                                       std::to_string(fields.size()) + " fields, header has " +
                                       std::to_string(table.header.size()));
    } else {
      table.rows.push_back(std::move(fields));
    }
  }
  int err = 0;
  const char* msg = gzerror(f, &err);
  if (status.ok() && err != Z_OK && err != Z_STREAM_END)
    status = Status::IOError(path + ": " + (msg ? msg : "read error"));
  gzclose(f);
  if (!status.ok()) return status;
  if (table.header.empty()) return Status::InvalidArgument(path + ": empty file");
  return table;
}

Status WriteCsv(const std::string& path, const CsvTable& table) {
  const bool gz = EndsWith(path, ".gz");
  gzFile f = gzopen(path.c_str(), gz ? "wb6" : "wbT");
  if (!f) return Status::IOError("cannot create " + path);
  auto write_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i) line += ',';
      line += Quote(row[i]);
    }
    line += '\n';
    return gzwrite(f, line.data(), static_cast<unsigned>(line.size())) == static_cast<int>(line.size());
  };
  bool ok = write_row(table.header);
  for (const auto& row : table.rows) ok = ok && write_row(row);
  ok = (gzclose(f) == Z_OK) && ok;
  return ok ? Status::Ok() : Status::IOError("cannot write " + path);
}

}  // namespace fedledger::trainer
