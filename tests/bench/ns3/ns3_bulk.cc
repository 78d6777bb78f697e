// ns3_bulk.cc: the simulator bulk workload of `make bench` in ns-3
// (Debian's ns3 3.37), so `make bench-ns3` compares like with like:
// two nodes, one point-to-point link of 10 Gbit/s and 10 us one way,
// TCP with MSS 1448, N BulkSend flows of B bytes each into PacketSinks.
//
// Prints one line of key=value pairs: one-way DATA segments (frames
// leaving the sender's device with payload; ACKs, SYNs and FINs are not
// counted) per wall second and per CPU second of Simulator::Run(), so
// topology setup is excluded as it is on our side.
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

using namespace ns3;

static uint64_t g_data_segments; // one-way data frames sent by node 0
static uint64_t g_rx_bytes;      // payload bytes taken by the sinks
static uint64_t g_rx_want;       // all of it: the run stops there

static void on_mac_tx(Ptr<const Packet> p)
{
	// Data frames carry MSS-sized payload; pure ACK, SYN, FIN frames are
	// headers only (IPv4 + TCP with options < 100 bytes).
	if (p->GetSize() > 100)
		g_data_segments++;
}

static void on_sink_rx(Ptr<const Packet> p, const Address &)
{
	g_rx_bytes += p->GetSize();
	// Stop when the last byte is in, as our run does; otherwise the
	// sockets' timers keep the event list alive for minutes of
	// simulated time.
	if (g_rx_bytes >= g_rx_want)
		Simulator::Stop();
}

static double now_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: ns3_bulk [--flows N] [--bytes-per-flow B] [--seed S]\n"
		     "  N BulkSend flows of B bytes over 10 Gbit/s, 10 us one way, MSS 1448 (defaults 1, 67108864)\n");
}

int main(int argc, char **argv)
{
	uint32_t flows = 1;
	uint64_t bytes = 64ull << 20;
	uint32_t seed = 1;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--help" || a == "-h") {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "ns3_bulk: %s needs a value\n", a.c_str());
			usage(stderr);
			return 2;
		}
		char *end;
		unsigned long long v = strtoull(argv[++i], &end, 10);
		if (*end || v == 0) {
			fprintf(stderr, "ns3_bulk: %s: '%s' is not a positive number\n", a.c_str(), argv[i]);
			return 2;
		}
		if (a == "--flows" && v <= 10000)
			flows = (uint32_t)v;
		else if (a == "--bytes-per-flow")
			bytes = v;
		else if (a == "--seed" && v <= 0xffffffffull)
			seed = (uint32_t)v;
		else {
			fprintf(stderr, "ns3_bulk: bad option or value: %s %s\n", a.c_str(), argv[i]);
			usage(stderr);
			return 2;
		}
	}
	RngSeedManager::SetSeed(seed);
	Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(1448));
	// Buffers as large as the stack's defaults would not limit a 10 Gbit/s,
	// 20 us RTT path (BDP 25 KB); ns-3's 128 KiB defaults do not either.
	NodeContainer nodes;
	nodes.Create(2);
	PointToPointHelper p2p;
	p2p.SetDeviceAttribute("DataRate", StringValue("10Gbps"));
	p2p.SetChannelAttribute("Delay", StringValue("10us"));
	NetDeviceContainer devs = p2p.Install(nodes);
	InternetStackHelper stack;
	stack.Install(nodes);
	Ipv4AddressHelper addr;
	addr.SetBase("10.0.0.0", "255.255.255.0");
	Ipv4InterfaceContainer ifs = addr.Assign(devs);

	ApplicationContainer sinks, sources;
	for (uint32_t f = 0; f < flows; f++) {
		uint16_t port = (uint16_t)(9000 + f);
		PacketSinkHelper sink("ns3::TcpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), port));
		sinks.Add(sink.Install(nodes.Get(1)));
		BulkSendHelper src("ns3::TcpSocketFactory", InetSocketAddress(ifs.GetAddress(1), port));
		src.SetAttribute("MaxBytes", UintegerValue(bytes));
		src.SetAttribute("SendSize", UintegerValue(65536));
		sources.Add(src.Install(nodes.Get(0)));
	}
	sinks.Start(Seconds(0));
	sources.Start(Seconds(0.001));
	devs.Get(0)->TraceConnectWithoutContext("MacTx", MakeCallback(&on_mac_tx));
	for (uint32_t f = 0; f < flows; f++)
		sinks.Get(f)->TraceConnectWithoutContext("Rx", MakeCallback(&on_sink_rx));

	g_rx_want = (uint64_t)flows * bytes;
	double wall0 = now_s(CLOCK_MONOTONIC), cpu0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	Simulator::Run();
	double wall = now_s(CLOCK_MONOTONIC) - wall0, cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	double virt_ms = Simulator::Now().GetSeconds() * 1e3;
	Simulator::Destroy();
	if (g_rx_bytes != (uint64_t)flows * bytes) {
		fprintf(stderr, "ns3_bulk: sinks received %llu bytes, expected %llu\n", (unsigned long long)g_rx_bytes,
			(unsigned long long)flows * bytes);
		return 1;
	}
	// Segments beyond one per full MSS of the stream: short segments
	// (ns-3's TcpNoDelay sends what a 64 KiB write leaves) and
	// retransmissions, which this program cannot tell apart.
	uint64_t full = (uint64_t)flows * ((bytes + 1447) / 1448);
	uint64_t extra = g_data_segments > full ? g_data_segments - full : 0;
	printf("ns3 flows=%u bytes_per_flow=%llu data_segments=%llu extra_segments=%llu virtual_ms=%.3f wall_s=%.3f "
	       "cpu_s=%.3f segs_per_wall_s=%.0f segs_per_cpu_s=%.0f\n",
	       flows, (unsigned long long)bytes, (unsigned long long)g_data_segments, (unsigned long long)extra,
	       virt_ms, wall, cpu,
	       (double)g_data_segments / wall, (double)g_data_segments / cpu);
	return 0;
}
