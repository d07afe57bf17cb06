// WardApp: the SwiftUI app entry, the app-wide graph, lock-on-background and the privacy cover.
import SwiftUI
import WardCore
import WardKit

/// The app-wide objects: one session over the vault in Application Support (complete file
/// protection, excluded from backup) and the repositories.
@MainActor
final class AppGraph: ObservableObject {
    let session: WardSession
    let clients: ClientRepository
    let notes: NoteRepository
    let photos: PhotoRepository
    let consents: ConsentRepository
    let sync: SyncRepository

    init() {
        let support = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        let vault = support.appendingPathComponent("vault", isDirectory: true)
        session = WardSession(vaultURL: vault, keyStore: KeychainKeyStore())
        clients = ClientRepository(session: session)
        notes = NoteRepository(session: session)
        photos = PhotoRepository(session: session)
        consents = ConsentRepository(session: session)
        sync = SyncRepository(session: session)
    }
}

@main
struct WardApp: App {
    @StateObject private var graph = AppGraph()
    @Environment(\.scenePhase) private var scenePhase
    @State private var covered = false
    private let idleTimer = Timer.publish(every: 15, on: .main, in: .common).autoconnect()

    var body: some Scene {
        WindowGroup {
            ZStack {
                RootView()
                    .environmentObject(graph)
                    .environmentObject(graph.session)
                if covered {
                    // The app switcher snapshots the window when the app goes inactive: cover
                    // everything first, so no clinical content appears there.
                    PrivacyCover()
                }
            }
            .onReceive(idleTimer) { _ in
                Task { await graph.session.lockIfIdle() }
            }
            .simultaneousGesture(TapGesture().onEnded { graph.session.touch() })
        }
        .onChange(of: scenePhase) { phase in
            switch phase {
            case .active:
                covered = false
                Task { await graph.session.lockIfIdle() }
            case .inactive:
                covered = true
            case .background:
                covered = true
                graph.session.lock()
            @unknown default:
                covered = true
            }
        }
    }
}

/// Shown over the app whenever it is not active.
struct PrivacyCover: View {
    var body: some View {
        ZStack {
            Color(.systemBackground).ignoresSafeArea()
            VStack(spacing: 12) {
                Image(systemName: "lock.shield").font(.system(size: 48))
                Text("Ward").font(.title)
            }
        }
    }
}

/// Switches on the session state: enrollment, lock screen, or the app.
struct RootView: View {
    @EnvironmentObject var graph: AppGraph
    @EnvironmentObject var session: WardSession

    var body: some View {
        VStack {
            // The device-wide notice (pending wipe, lease warning, rate limit) on every screen.
            if let notice = session.notice {
                Text(notice).foregroundColor(.red)
            }
            screen
        }
    }

    @ViewBuilder
    private var screen: some View {
        switch session.state {
        case .wipePending:
            VStack {
                Text("This phone was revoked by your clinic. Connect to the internet to finish.")
                Button("Try again") { Task { _ = try? await graph.sync.enforceLease() } }
            }
        case .noVault, .wiped:
            EnrollView()
        case .locked:
            LockView(model: LockModel(session: session))
        case .unlocked:
            NavigationStack {
                ClientListView(model: ClientListModel(clients: graph.clients))
            }
            .task {
                // Offline too long: the core wipes the vault and the session shows enrollment.
                _ = try? await graph.sync.enforceLease()
            }
        }
    }
}
