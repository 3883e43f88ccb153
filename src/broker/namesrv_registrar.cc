#include "broker/namesrv_registrar.h"

#include "broker/logger.h"

namespace vela::broker {

NamesrvRegistrar::NamesrvRegistrar(std::vector<std::string> namesrv_addrs, int64_t interval_ms,
                                   std::function<v1::RegisterBrokerRequest()> build)
    : ServiceThread("namesrv-reg"),
      addrs_(std::move(namesrv_addrs)),
      interval_ms_(interval_ms),
      build_(std::move(build)),
      client_(net::RpcClientOptions{1, net::kDefaultMaxFrameSize, 3000, "vela-reg"}),
      failing_(addrs_.size(), false) {}

NamesrvRegistrar::~NamesrvRegistrar() { Stop(); }

void NamesrvRegistrar::Run() {
  while (!stopped()) {
    RegisterAll();
    WaitForRunning(std::chrono::milliseconds(interval_ms_));
  }
}

void NamesrvRegistrar::RegisterAll() {
  v1::RegisterBrokerRequest request = build_();
  for (size_t i = 0; i < addrs_.size(); ++i) {
    v1::Header h;
    h.set_code(v1::REGISTER_BROKER);
    *h.mutable_register_broker_request() = request;
    auto r = client_.InvokeSync(addrs_[i], std::move(h), {}, 3000);
    if (!r.ok()) {
      if (!failing_[i]) BrokerLogger()->warn("registration with name server {} failed: {}", addrs_[i], r.status().ToString());
      failing_[i] = true;
    } else if (failing_[i]) {
      BrokerLogger()->info("registered with name server {} again", addrs_[i]);
      failing_[i] = false;
    }
  }
}

void NamesrvRegistrar::UnregisterAll() {
  v1::RegisterBrokerRequest reg = build_();
  for (const auto& addr : addrs_) {
    v1::Header h;
    h.set_code(v1::UNREGISTER_BROKER);
    auto* u = h.mutable_unregister_broker_request();
    u->set_cluster_name(reg.cluster_name());
    u->set_broker_name(reg.broker_name());
    u->set_broker_id(reg.broker_id());
    u->set_broker_addr(reg.broker_addr());
    (void)client_.InvokeSync(addr, std::move(h), {}, 1000);
  }
}

}  // namespace vela::broker
