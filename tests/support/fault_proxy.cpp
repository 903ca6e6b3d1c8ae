// FaultProxy (fault_proxy.hpp): one acceptor and one Session per connection, on one io_context
// thread, written as Asio coroutines. A Session has two Pipes (up: client -> HQ, down: HQ ->
// client); each Pipe has a reader that queues what arrives, stamped with the time it may leave,
// and a writer that forwards the queue in order once each chunk's time has come. The fault of a
// connection is a marker the reader puts in the queue at the fault's offset, so the writer
// forwards exactly the bytes before it, then acts.
#include "fault_proxy.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <future>
#include <exception>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace fieldsync::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// A coroutine that throws (out of memory) ends the proxy's thread loudly, not silently.
constexpr auto kRethrow = [](std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
};

// Bytes a direction may hold waiting for their delay before its reader pauses: a bound on the
// proxy's memory, far above what a sync page needs (a few hundred KB).
constexpr std::size_t kMaxQueuedBytes = 16 * 1024 * 1024;
constexpr std::size_t kReadChunkBytes = 64 * 1024;
// How long the destructor waits for connections to wind down before it stops the loop anyway.
constexpr auto kShutdownGrace = std::chrono::seconds(10);

enum class FaultKind { none, cut, stall, truncate };
enum Direction : int { kUp = 0, kDown = 1 };

struct ConnectionFault {
  FaultKind kind = FaultKind::none;
  int direction = kUp;
  std::size_t offset = 0;
};

// SplitMix64: small, well mixed and the same on every platform (std distributions are not).
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The fault of connection `index` under `plan`: from the seed and the index only.
ConnectionFault draw_fault(const FaultPlan& plan, std::uint64_t index) {
  std::uint64_t state = plan.seed ^ (index * 0xd1b54a32d192ed03ULL);
  splitmix64(state);  // one round to spread nearby seeds apart
  const double u = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;  // [0, 1)
  ConnectionFault fault;
  double edge = plan.cut_probability;
  if (u < edge) {
    fault.kind = FaultKind::cut;
  } else if (u < (edge += plan.stall_probability)) {
    fault.kind = FaultKind::stall;
  } else if (u < (edge += plan.truncate_probability)) {
    fault.kind = FaultKind::truncate;
  }
  fault.direction = (splitmix64(state) & 1) != 0 ? kDown : kUp;
  fault.offset = plan.max_fault_offset == 0 ? 0 : splitmix64(state) % plan.max_fault_offset;
  return fault;
}

// A TCP socket that is close-on-exec from its creation. Tests fork `fieldsync` children all the
// time, from this thread and others: a child that inherited one of the proxy's sockets would hold
// its connection open after the proxy closed it, and the client at the other end would wait for
// an answer that never comes (seen: a sync hung until a `fieldsync-hq serve` started meanwhile
// was killed). Asio opens and accepts sockets without SOCK_CLOEXEC, so the proxy makes its own.
void open_cloexec(tcp::socket& socket, boost::system::error_code& ec) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec.assign(errno, boost::system::system_category());
    return;
  }
  socket.assign(tcp::v4(), fd, ec);
  if (ec) ::close(fd);
}

// Closes with RST rather than FIN: what a cut link looks like to the other side.
void reset(tcp::socket& socket) {
  boost::system::error_code ignored;
  if (!socket.is_open()) return;
  socket.set_option(tcp::socket::linger(true, 0), ignored);
  socket.close(ignored);
}

}  // namespace

class Session;

struct FaultProxy::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::uint16_t port = 0;

  mutable std::mutex mutex;  // guards the five below, read and written from any thread
  FaultPlan plan;
  std::uint16_t upstream_port = 0;
  bool link_down = false;
  FaultStats stats;

  std::uint64_t next_index = 0;  // of the next connection under `plan` (guarded by `mutex` too)

  // Only on the io thread:
  bool stopping = false;
  std::set<std::shared_ptr<Session>> sessions;

  std::thread thread;
  std::promise<void> thread_done;

  asio::awaitable<void> accept_loop();
  void cut_all();

  template <typename F>
  void update_stats(F&& change) {
    std::lock_guard lock(mutex);
    change(stats);
  }
};

// One proxied connection. Kept alive by its coroutines (each holds a shared_ptr) and by the
// proxy's set until it closes; its destructor touches nothing of the proxy's.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(FaultProxy::Impl& proxy, tcp::socket client, ConnectionFault fault, std::chrono::milliseconds delay)
      : proxy_(proxy),
        client_(std::move(client)),
        server_(proxy.ioc),
        fault_(fault),
        delay_(delay),
        pipes_{Pipe{client_, server_, proxy.ioc}, Pipe{server_, client_, proxy.ioc}} {}

  asio::awaitable<void> run(std::uint16_t upstream_port) {
    auto self = shared_from_this();
    boost::system::error_code ec;
    open_cloexec(server_, ec);
    if (!ec) {
      std::tie(ec) = co_await server_.async_connect({asio::ip::address_v4::loopback(), upstream_port}, kNoThrow);
    }
    if (closed_) co_return;
    if (ec) {  // HQ is not there: the client sees its connection refused, as it would without us
      proxy_.update_stats([](FaultStats& s) { ++s.refused; });
      close(/*abortive=*/true);
      co_return;
    }
    for (int d : {kUp, kDown}) {
      asio::co_spawn(proxy_.ioc, read_loop(d), kRethrow);
      asio::co_spawn(proxy_.ioc, write_loop(d), kRethrow);
    }
  }

  // Ends the connection: both sockets closed (with RST if `abortive`), every wait cancelled so
  // the coroutines see it and return. Safe to call more than once.
  void close(bool abortive) {
    if (closed_) return;
    closed_ = true;
    for (Pipe& p : pipes_) {
      p.wake.cancel();
      p.room.cancel();
      p.queue.clear();
    }
    boost::system::error_code ignored;
    if (abortive) {
      reset(client_);
      reset(server_);
    } else {
      client_.close(ignored);
      server_.close(ignored);
    }
    const bool was_stalled = stalled_;
    proxy_.update_stats([was_stalled](FaultStats& s) {
      --s.open;
      if (was_stalled) --s.stalled_open;
    });
    proxy_.sessions.erase(shared_from_this());
  }

 private:
  enum class ChunkKind { data, end, fault };
  struct Chunk {
    Clock::time_point release;
    ChunkKind kind;
    std::string bytes;
  };
  struct Pipe {
    Pipe(tcp::socket& from_socket, tcp::socket& to_socket, asio::io_context& ioc)
        : from(from_socket), to(to_socket), wake(ioc), room(ioc) {}
    tcp::socket& from;
    tcp::socket& to;
    std::deque<Chunk> queue;
    std::size_t queued_bytes = 0;
    std::size_t taken = 0;        // bytes read from `from` and queued (the fault's offset counts these)
    bool dropping = false;        // past the fault: what arrives is read and dropped
    bool reader_done = false;     // `from` reached its end (or failed)
    bool writer_done = false;     // `to` got its FIN, or was truncated
    asio::steady_timer wake;      // the writer waits on it for data or for a chunk's release time
    asio::steady_timer room;      // the reader waits on it while the queue is full
  };

  static void poke(asio::steady_timer& timer) { timer.cancel(); }

  void push(Pipe& p, ChunkKind kind, std::string bytes = {}) {
    p.queued_bytes += bytes.size();
    p.queue.push_back(Chunk{Clock::now() + delay_, kind, std::move(bytes)});
    poke(p.wake);
  }

  // Both directions ended cleanly (or one was truncated and the other ended): nothing is left.
  void finish_if_done() {
    if (closed_) return;
    for (const Pipe& p : pipes_) {
      if (!p.reader_done || !p.writer_done) return;
    }
    close(/*abortive=*/false);
  }

  asio::awaitable<void> read_loop(int d) {
    auto self = shared_from_this();
    Pipe& p = pipes_[d];
    std::array<char, kReadChunkBytes> buffer;
    for (;;) {
      while (!closed_ && p.queued_bytes > kMaxQueuedBytes) {
        p.room.expires_at(Clock::time_point::max());
        co_await p.room.async_wait(kNoThrow);
      }
      if (closed_) co_return;
      auto [ec, n] = co_await p.from.async_read_some(asio::buffer(buffer), kNoThrow);
      if (closed_) co_return;
      if (ec) {
        p.reader_done = true;
        if (stalled_) {
          // The client gave up on a stalled connection: end it. HQ's end alone closing changes
          // nothing for the client, which still hears nothing.
          if (d == kUp) close(/*abortive=*/false);
          co_return;
        }
        if (ec != asio::error::eof) {  // reset or another failure: pass the cut on
          close(/*abortive=*/true);
          co_return;
        }
        if (p.dropping) {
          finish_if_done();
        } else {
          push(p, ChunkKind::end);
        }
        co_return;
      }
      if (p.dropping || stalled_) continue;
      std::string bytes(buffer.data(), n);
      if (fault_.kind != FaultKind::none && fault_.direction == d && p.taken + n > fault_.offset) {
        bytes.resize(fault_.offset - p.taken);
        p.taken = fault_.offset;
        if (!bytes.empty()) push(p, ChunkKind::data, std::move(bytes));
        push(p, ChunkKind::fault);
        p.dropping = true;
        continue;
      }
      p.taken += n;
      push(p, ChunkKind::data, std::move(bytes));
    }
  }

  asio::awaitable<void> write_loop(int d) {
    auto self = shared_from_this();
    Pipe& p = pipes_[d];
    for (;;) {
      if (closed_ || p.writer_done) co_return;
      if (p.queue.empty() || Clock::now() < p.queue.front().release) {
        p.wake.expires_at(p.queue.empty() ? Clock::time_point::max() : p.queue.front().release);
        co_await p.wake.async_wait(kNoThrow);
        continue;
      }
      Chunk chunk = std::move(p.queue.front());
      p.queue.pop_front();
      p.queued_bytes -= chunk.bytes.size();
      poke(p.room);
      if (stalled_) continue;  // silent: what was still queued is dropped
      switch (chunk.kind) {
        case ChunkKind::data: {
          auto [ec, n] = co_await asio::async_write(p.to, asio::buffer(chunk.bytes), kNoThrow);
          if (closed_) co_return;
          if (ec) {
            close(/*abortive=*/true);
            co_return;
          }
          proxy_.update_stats([d, n = n](FaultStats& s) { (d == kUp ? s.bytes_up : s.bytes_down) += n; });
          break;
        }
        case ChunkKind::end: {
          boost::system::error_code ignored;
          p.to.shutdown(tcp::socket::shutdown_send, ignored);
          p.writer_done = true;
          finish_if_done();
          co_return;
        }
        case ChunkKind::fault:
          fire_fault(p);
          co_return;
      }
    }
  }

  void fire_fault(Pipe& p) {
    switch (fault_.kind) {
      case FaultKind::cut:
        proxy_.update_stats([](FaultStats& s) { ++s.cuts; });
        close(/*abortive=*/true);
        return;
      case FaultKind::stall:
        stalled_ = true;
        proxy_.update_stats([](FaultStats& s) {
          ++s.stalls;
          ++s.stalled_open;
        });
        for (Pipe& other : pipes_) poke(other.wake);  // the other writer drops its queue too
        return;
      case FaultKind::truncate: {
        proxy_.update_stats([](FaultStats& s) { ++s.truncations; });
        boost::system::error_code ignored;
        p.to.shutdown(tcp::socket::shutdown_send, ignored);
        p.writer_done = true;
        finish_if_done();
        return;
      }
      case FaultKind::none:
        return;
    }
  }

  FaultProxy::Impl& proxy_;
  tcp::socket client_;
  tcp::socket server_;
  const ConnectionFault fault_;
  const std::chrono::milliseconds delay_;
  std::array<Pipe, 2> pipes_;
  bool closed_ = false;
  bool stalled_ = false;
};

asio::awaitable<void> FaultProxy::Impl::accept_loop() {
  for (;;) {
    // accept4 with SOCK_CLOEXEC rather than async_accept (see open_cloexec).
    co_await acceptor.async_wait(tcp::acceptor::wait_read, kNoThrow);
    if (stopping || !acceptor.is_open()) co_return;
    const int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) continue;
      // Out of descriptors or similar: wait a moment rather than spin, then accept again.
      asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    tcp::socket socket(ioc);
    boost::system::error_code assigned;
    socket.assign(tcp::v4(), fd, assigned);
    if (assigned) {
      ::close(fd);
      continue;
    }
    FaultPlan connection_plan;
    std::uint16_t upstream = 0;
    bool down = false;
    std::uint64_t index = 0;
    {
      std::lock_guard lock(mutex);
      connection_plan = plan;
      index = next_index++;
      upstream = upstream_port;
      down = link_down;
      ++stats.connections;
      if (down) {
        ++stats.refused;
      } else {
        ++stats.open;
      }
    }
    if (down) {
      reset(socket);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto session = std::make_shared<Session>(*this, std::move(socket), draw_fault(connection_plan, index),
                                             connection_plan.delay_each_way);
    sessions.insert(session);
    asio::co_spawn(ioc, session->run(upstream), kRethrow);
  }
}

void FaultProxy::Impl::cut_all() {
  const auto open = sessions;  // close() erases from the set
  for (const auto& session : open) session->close(/*abortive=*/true);
}

FaultProxy::FaultProxy(std::uint16_t upstream_port, FaultPlan plan) : impl_(std::make_unique<Impl>()) {
  impl_->plan = plan;
  impl_->upstream_port = upstream_port;
  const tcp::endpoint where(asio::ip::address_v4::loopback(), 0);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("FaultProxy: socket: ") + std::strerror(errno));
  impl_->acceptor.assign(tcp::v4(), fd);  // close-on-exec, as every socket here (see open_cloexec)
  impl_->acceptor.non_blocking(true);  // accept4 after a readiness wait must not block
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(where);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), kRethrow);
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->ioc.run();
    impl->thread_done.set_value();
  });
}

FaultProxy::~FaultProxy() {
  Impl& impl = *impl_;
  asio::post(impl.ioc, [&impl] {
    impl.stopping = true;
    boost::system::error_code ignored;
    impl.acceptor.close(ignored);
    impl.cut_all();
  });
  // Every coroutine ends once its sockets and timers are closed, and run() returns. Should one
  // not, stop the loop rather than hang the test: the frames left are destroyed with it.
  if (impl.thread_done.get_future().wait_for(kShutdownGrace) != std::future_status::ready) impl.ioc.stop();
  impl.thread.join();
}

std::uint16_t FaultProxy::port() const { return impl_->port; }

std::string FaultProxy::url() const { return "https://127.0.0.1:" + std::to_string(impl_->port); }

void FaultProxy::set_plan(FaultPlan plan) {
  std::lock_guard lock(impl_->mutex);
  impl_->plan = plan;
  impl_->next_index = 0;
}

void FaultProxy::set_link_down(bool down) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->link_down = down;
  }
  if (!down) return;
  // Cut what is open now, and return only once that is done: the caller may count on it.
  std::promise<void> done;
  asio::post(impl_->ioc, [this, &done] {
    impl_->cut_all();
    done.set_value();
  });
  done.get_future().wait();
}

void FaultProxy::set_upstream_port(std::uint16_t port) {
  std::lock_guard lock(impl_->mutex);
  impl_->upstream_port = port;
}

FaultStats FaultProxy::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace fieldsync::testing
