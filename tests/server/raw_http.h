// Raw-socket HTTP for the tests that need what a client library hides: a client that hangs up
// mid-stream, or bytes sent exactly as written.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace tunekit::test {

// A connected socket to 127.0.0.1:port, or -1.
inline int connect_local(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends the bytes on a new connection (one write); returns the status of the answer's first line
// (-1: no answer).
inline int raw_status(int port, const std::string& request) {
  const int fd = connect_local(port);
  if (fd < 0) return -1;
  std::string answer;
  if (write(fd, request.data(), request.size()) == ssize_t(request.size())) {
    char buf[1024];
    for (ssize_t n; answer.find("\r\n") == std::string::npos && (n = read(fd, buf, sizeof buf)) > 0;)
      answer.append(buf, size_t(n));
  }
  close(fd);
  return answer.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(answer.substr(9, 3)) : -1;
}

// POSTs a streaming completion, reads the first bytes of the answer, and hangs up. False when no
// answer came.
inline bool start_stream_and_hang_up(int port, const std::string& body) {
  const int fd = connect_local(port);
  if (fd < 0) return false;
  const std::string request = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  char buf[256];
  const bool answered = write(fd, request.data(), request.size()) == ssize_t(request.size()) &&
                        read(fd, buf, sizeof buf) > 0;  // the headers (and maybe a chunk) arrived
  close(fd);
  return answered;
}

}  // namespace tunekit::test
