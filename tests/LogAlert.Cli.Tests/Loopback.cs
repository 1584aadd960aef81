using System.Net;
using System.Net.Sockets;

namespace LogAlert.Cli.Tests;

/// <summary>What the tests that start real servers (nginx, Alertmanager) or point at none share.</summary>
public static class Loopback
{
    /// <summary>A 127.0.0.1 port nothing listens on now (the system's pick, given back at once).</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
