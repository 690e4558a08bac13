import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A G1 heap with a real garbage-collection sawtooth for the real-program corpus.
 *
 * <p>Allocates short-lived garbage at a steady rate (GARBAGE_MB_PER_S) over a constant live set
 * (LIVE_MB). With LEAK_KB_PER_S > 0 it also keeps LEAK_KB_PER_S a second in a list it never
 * clears: a live set that keeps growing. Runs for at most DURATION_S seconds.
 *
 * <p>The heap is served as JSON on 127.0.0.1 (an ephemeral port, printed as "listening on
 * 127.0.0.1:PORT"): GET /heap answers {"used_bytes", "committed_bytes"} from the memory MXBean,
 * for soak's json probe, so the recording carries the heap's GC sawtooth beside RSS.
 *
 * <p>Usage: java GcSawtooth GARBAGE_MB_PER_S LIVE_MB LEAK_KB_PER_S DURATION_S
 */
public final class GcSawtooth {
  private static final int TICK_MS = 50;
  private static volatile long sink;

  private static void serveHeap() throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 4);
    server.createContext("/heap", exchange -> {
      MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
      byte[] body = ("{\"used_bytes\":" + heap.getUsed() + ",\"committed_bytes\":"
          + heap.getCommitted() + "}").getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    server.start();
    System.out.println("listening on 127.0.0.1:" + server.getAddress().getPort());
    System.out.flush();
  }

  public static void main(String[] args) throws InterruptedException, IOException {
    final double garbageMbPerS = Double.parseDouble(args[0]);
    final int liveMb = Integer.parseInt(args[1]);
    final double leakKbPerS = Double.parseDouble(args[2]);
    final double durationS = Double.parseDouble(args[3]);

    serveHeap();
    List<byte[]> live = new ArrayList<>();
    for (int i = 0; i < liveMb; i++) live.add(new byte[1 << 20]);
    List<byte[]> leaked = new ArrayList<>();

    final long start = System.nanoTime();
    long tick = 0;
    double garbageDebt = 0;
    double leakDebt = 0;
    while ((System.nanoTime() - start) / 1e9 < durationS) {
      garbageDebt += garbageMbPerS * 1024 * TICK_MS / 1000.0;  // KiB due this tick
      while (garbageDebt >= 16) {
        byte[] g = new byte[16 * 1024];
        g[(int) (tick % g.length)] = 1;
        sink += g[0];
        garbageDebt -= 16;
      }
      leakDebt += leakKbPerS * TICK_MS / 1000.0;
      while (leakDebt >= 4) {
        leaked.add(new byte[4 * 1024]);
        leakDebt -= 4;
      }
      // Touch the live set so it stays live.
      sink += live.get((int) (tick % live.size()))[0];
      tick++;
      long due = start + tick * TICK_MS * 1_000_000L;
      long sleepNs = due - System.nanoTime();
      if (sleepNs > 0) Thread.sleep(sleepNs / 1_000_000L, (int) (sleepNs % 1_000_000L));
    }
    System.err.println("GcSawtooth: leaked " + leaked.size() * 4 + " KiB, sink " + sink);
  }
}
