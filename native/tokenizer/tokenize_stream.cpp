// tokenize_stream.cpp: file descriptor in, one line of ids (or wordpieces) per input line out. Reads in
// chunks cut after the last '\n', encodes each chunk's lines on several threads into per-part text
// buffers, and writes them in order while the next chunk is encoded. Not Node-aware.
#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "engine/common.h"
#include "engine/info.h"
#include "tokenizer/wordpiece.h"

#ifdef _WIN32
#include <io.h>
#define ELECTRA_READ _read
#define ELECTRA_WRITE _write
#else
#include <poll.h>
#include <unistd.h>
#define ELECTRA_READ ::read
#define ELECTRA_WRITE ::write
#endif

namespace electra {

namespace {

// Whether to retry after waiting: EINTR, or EAGAIN on a descriptor that Node (libuv) made non-blocking.
bool should_retry(int fd, bool for_write) {
  if (errno == EINTR) return true;
#ifndef _WIN32
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    return true;
  }
#endif
  return false;
}

// Whether nothing more can be read from `fd` right now (a slow pipe or a terminal).
bool input_idle(int fd) {
#ifndef _WIN32
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 0;
#else
  return false;
#endif
}

// Reads until `buf` holds `want` bytes, or the input ends, or a complete line is buffered and no more
// input is ready yet (so that `slow-producer | electra tokenize` answers line by line). Returns false
// at the end of the input.
bool fill(int fd, std::vector<char>& buf, size_t& have, size_t want, const std::string& name) {
  if (buf.size() < want) buf.resize(want);
  bool have_line = std::memchr(buf.data(), '\n', have) != nullptr;
  while (have < want) {
    const size_t ask = std::min<size_t>(want - have, 1u << 30);
    const auto r = ELECTRA_READ(fd, buf.data() + have, static_cast<unsigned>(ask));
    if (r < 0) {
      if (should_retry(fd, false)) continue;
      throw Error("cannot read " + name + ": " + std::strerror(errno));
    }
    if (r == 0) return false;
    have_line = have_line || std::memchr(buf.data() + have, '\n', static_cast<size_t>(r)) != nullptr;
    have += static_cast<size_t>(r);
    if (static_cast<size_t>(r) < ask && have_line && input_idle(fd)) break;
  }
  return true;
}

void write_all(int fd, const std::string& s, const std::string& name) {
  size_t done = 0;
  while (done < s.size()) {
    const auto w = ELECTRA_WRITE(fd, s.data() + done, static_cast<unsigned>(std::min<size_t>(s.size() - done, 1u << 30)));
    if (w < 0) {
      if (should_retry(fd, true)) continue;
      throw Error("cannot write " + name + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(w);
  }
}

inline char* put_u32(char* p, uint32_t v) {
  char tmp[10];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

// Encodes the lines of `text` and appends their output lines to `out`.
void format_lines(const WordPieceTokenizer& tok, std::string_view text, bool tokens, std::string& out,
                  std::vector<int32_t>& ids, std::vector<uint64_t>& offsets, EncodeStats& st) {
  tok.encode_lines(text, ids, offsets, 1, &st);
  if (tokens) {
    for (size_t line = 0; line + 1 < offsets.size(); line++) {
      for (uint64_t k = offsets[line]; k < offsets[line + 1]; k++) {
        if (k > offsets[line]) out.push_back(' ');
        out.append(tok.id_to_token(ids[k]));
      }
      out.push_back('\n');
    }
    return;
  }
  const size_t old = out.size();
  out.resize(old + ids.size() * 11 + (offsets.size() - 1));
  char* p = &out[old];
  for (size_t line = 0; line + 1 < offsets.size(); line++) {
    for (uint64_t k = offsets[line]; k < offsets[line + 1]; k++) {
      if (k > offsets[line]) *p++ = ' ';
      p = put_u32(p, static_cast<uint32_t>(ids[k]));
    }
    *p++ = '\n';
  }
  out.resize(p - out.data());
}

}  // namespace

EncodeStats tokenize_stream(const WordPieceTokenizer& tok, int in_fd, int out_fd, const StreamOptions& opt) {
  const int nt = opt.threads > 0 ? opt.threads : std::max(1, get_num_threads());
  const size_t chunk = std::max<size_t>(opt.chunk_bytes, 1 << 12);
  EncodeStats total;
  std::vector<char> buf;
  size_t have = 0;
  bool more = true;
  // Per part: its output text and scratch. Two sets, so one can be written while the other is filled.
  struct Part {
    std::string out;
    std::vector<int32_t> ids;
    std::vector<uint64_t> offsets;
    EncodeStats st;
  };
  std::vector<Part> parts[2];
  int cur = 0;
  std::thread writer;
  std::exception_ptr write_error;
  auto join_writer = [&] {
    if (writer.joinable()) writer.join();
    if (write_error) std::rethrow_exception(write_error);
  };
  try {
    while (more || have > 0) {
      // Read until the buffer holds a whole line (or the input ends).
      size_t want = std::max(chunk, have + (have >= chunk ? chunk : 0));
      size_t cut = 0;
      while (true) {
        if (more) more = fill(in_fd, buf, have, want, opt.in_name);
        size_t last = have;
        while (last > 0 && buf[last - 1] != '\n') last--;
        if (last > 0) {
          cut = last;
          break;
        }
        if (!more) {
          cut = have;
          break;
        }
        want = have + chunk;  // a line longer than the buffer: grow it
      }
      if (cut == 0) break;
      // Encode [0, cut) in line-aligned parts, in parallel.
      const std::string_view text(buf.data(), cut);
      std::vector<size_t> cuts{0};
      const size_t np = cut < (64u << 10) ? 1 : static_cast<size_t>(nt) * 4;
      for (size_t i = 1; i < np; i++) {
        size_t at = std::max(cuts.back(), cut * i / np);
        const void* nl = at < cut ? std::memchr(text.data() + at, '\n', cut - at) : nullptr;
        if (!nl) break;
        at = static_cast<const char*>(nl) - text.data() + 1;
        if (at > cuts.back() && at < cut) cuts.push_back(at);
      }
      cuts.push_back(cut);
      std::vector<Part>& ps = parts[cur];
      ps.resize(cuts.size() - 1);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (ps.size() > 1)
      for (size_t i = 0; i < ps.size(); i++) {
        ps[i].out.clear();
        ps[i].st = EncodeStats{};
        format_lines(tok, text.substr(cuts[i], cuts[i + 1] - cuts[i]), opt.tokens, ps[i].out, ps[i].ids, ps[i].offsets,
                     ps[i].st);
      }
      for (const Part& p : ps) total.add(p.st);
      // Write this chunk's output on a second thread while the next chunk is read and encoded.
      join_writer();
      writer = std::thread([&ps, out_fd, &opt, &write_error] {
        try {
          for (const Part& p : ps) write_all(out_fd, p.out, opt.out_name);
        } catch (...) {
          write_error = std::current_exception();
        }
      });
      cur ^= 1;
      std::memmove(buf.data(), buf.data() + cut, have - cut);
      have -= cut;
    }
    join_writer();
  } catch (...) {
    if (writer.joinable()) writer.join();
    throw;
  }
  return total;
}

}  // namespace electra
