#pragma once

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

// Tiny argv parsing shared by the examples: --namesrv ADDRS --topic T [--group G] [--count N].
struct ExampleArgs {
  std::string namesrv;
  std::string topic = "TopicTest";
  std::string group = "example_group";
  int count = 10;

  static ExampleArgs Parse(int argc, char** argv) {
    ExampleArgs args;
    if (const char* env = std::getenv("VELA_NAMESRV")) args.namesrv = env;
    for (int i = 1; i + 1 < argc; i += 2) {
      std::string flag = argv[i];
      std::string value = argv[i + 1];
      if (flag == "--namesrv") {
        args.namesrv = value;
      } else if (flag == "--topic") {
        args.topic = value;
      } else if (flag == "--group") {
        args.group = value;
      } else if (flag == "--count") {
        args.count = std::atoi(value.c_str());
      } else {
        std::cerr << "unknown flag " << flag << "\n";
        std::exit(2);
      }
    }
    if (args.namesrv.empty()) {
      std::cerr << "usage: " << argv[0] << " --namesrv HOST:PORT --topic TOPIC [--group G] [--count N]\n";
      std::exit(2);
    }
    return args;
  }
};
