// Amazon DynamoDB Local held to 127.0.0.1 (dev/lib.sh runs it with `java LoopbackDynamoDBLocal.java`,
// Java's single-file source launcher, against the jar npm installed beside this file).
//
// DynamoDB Local has no option for the address it listens on: its DynamoDBProxyServer builds
// Jetty's `new Server(port)`, whose one connector binds every interface, so a laptop on a cafe's
// network would serve its tables to anyone there. This starts the same server the jar's own main
// would (the same command-line options, parsed by DynamoDB Local itself) with that connector's host
// set to loopback before it binds. Telemetry, which the jar's main configures, is never set up.
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        Connector[] connectors = server.getConnectors();
        if (connectors.length == 0) {
            throw new IllegalStateException("DynamoDB Local built a server without a connector");
        }
        for (Connector connector : connectors) {
            // A connector of another kind would bind wherever it likes: refuse to start instead.
            ((ServerConnector) connector).setHost("127.0.0.1");
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on 127.0.0.1 only");
        server.join();
    }
}
