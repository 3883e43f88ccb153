// sleep_jitter: how late a thread that sleeps 200 µs at a time wakes up on this machine, with
// nothing else running. Every message of W3 crosses several such wake-ups (pacing loop, io
// threads of the producer, the broker and the consumer), so the oversleep tail is a floor under
// W3's p99.9 that no broker code can lower.
//   g++ -O2 -std=c++20 -o /tmp/sleep_jitter bench/tools/sleep_jitter.cc && /tmp/sleep_jitter [seconds]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const double seconds = argc > 1 ? std::atof(argv[1]) : 10.0;
  const auto nap = std::chrono::microseconds(200);
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  long sleeps = 0, over_1ms = 0, over_5ms = 0;
  Clock::duration worst{};
  while (Clock::now() < end) {
    const auto before = Clock::now();
    std::this_thread::sleep_for(nap);
    const auto late = Clock::now() - before - nap;
    ++sleeps;
    if (late > worst) worst = late;
    if (late > std::chrono::milliseconds(1)) ++over_1ms;
    if (late > std::chrono::milliseconds(5)) ++over_5ms;
  }
  std::printf("sleeps %ld of 200 us: worst oversleep %.1f us, > 1 ms: %ld, > 5 ms: %ld\n", sleeps,
              std::chrono::duration<double, std::micro>(worst).count(), over_1ms, over_5ms);
  return 0;
}
