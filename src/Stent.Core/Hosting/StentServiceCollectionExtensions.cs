// services.AddStent(...): the store, the client, the worker, and a hosted service that runs the worker.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Stent.Execution;
using Stent.Storage;

namespace Stent.Hosting;

/// <summary>Registers Stent in a generic host or an ASP.NET app with one line.</summary>
public static class StentServiceCollectionExtensions
{
    /// <summary>
    /// Adds the store, a <see cref="StentClient"/>, a <see cref="Worker"/> and (unless
    /// <see cref="StentBuilder.RunWorker"/> is false) a hosted service that serves until the host stops.
    /// </summary>
    public static IServiceCollection AddStent(this IServiceCollection services, Action<StentBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = new StentBuilder();
        configure(builder);
        var store = builder.Store ?? throw new InvalidOperationException("AddStent needs a store: call UseInMemory(), UseSqlite(path) or UseMarten(connectionString).");
        services.AddSingleton(store);
        services.AddSingleton(sp => new StentClient(sp.GetRequiredService<IWorkStore>(), builder.EffectiveSerializer,
            builder.Registry));
        // The worker logs through the host's logger and its steps resolve the host's services, a scope per attempt.
        services.AddSingleton(sp => new Worker(sp.GetRequiredService<IWorkStore>(),
            builder.Worker with { Services = builder.Worker.Services ?? sp, Serializer = builder.EffectiveSerializer },
            builder.Registry));
        if (builder.RunWorker) services.AddSingleton<IHostedService, StentWorkerService>();
        return services;
    }
}

/// <summary>Runs the registered <see cref="Worker"/> for the host's lifetime and drains it on shutdown.</summary>
internal sealed class StentWorkerService(Worker worker) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => worker.ServeAsync(stoppingToken);
}
